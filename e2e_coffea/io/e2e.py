"""The E2E ntuple layout of CMS MLAnalyzer: tree ``fevt/RHTree``, dense flat images per event.

Written from the sparse chunk by scattering its hits (:func:`~e2e_coffea.io.densify.densify`),
so both layouts carry the same numbers. Reading accepts what uproot writes (jagged
``float[]``), what ROOT writes (``std::vector<float>``) and fixed-size arrays alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Final

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import FileLayoutError
from ..layouts import E2E_IMAGES, E2E_TREE
from .arrays import entry_of
from .files import E2E_COMPRESSION, write_tree
from .sparse import SimChunk, flatten_collections

__all__ = ["E2E_FROM_SPARSE", "dense_image", "e2e_per_object", "write_e2e"]

E2E_FROM_SPARSE: Final[dict[str, str]] = {
    # per jet
    "jetSeed_ieta": "Jet_seedIeta",
    "jetSeed_iphi": "Jet_seedIphi",
    "jet_Pt": "Jet_pt",
    "jet_Eta": "Jet_eta",
    "jet_Phi": "Jet_phi",
    "jet_M": "Jet_mass",
    "jet_IsTau": "Jet_isTau",
    "jet_IsEle": "Jet_isEle",
    "jet_label": "Jet_label",
    "jet_inFrame": "Jet_inFrame",
    "jet_hadronFlavour": "Jet_hadronFlavour",
    "jet_partonFlavour": "Jet_partonFlavour",
    # per large-radius jet
    "fatjetSeed_ieta": "FatJet_seedIeta",
    "fatjetSeed_iphi": "FatJet_seedIphi",
    "fatjet_Pt": "FatJet_pt",
    "fatjet_Eta": "FatJet_eta",
    "fatjet_Phi": "FatJet_phi",
    "fatjet_M": "FatJet_mass",
    "fatjet_MSoftDrop": "FatJet_msoftdrop",
    "fatjet_label": "FatJet_label",
    "fatjet_genM": "FatJet_genMass",
    "fatjet_genMSoftDrop": "FatJet_genMSoftDrop",
    # per e/gamma candidate
    "SC_ieta": "EGamma_seedRow",
    "SC_iphi": "EGamma_seedCol",
    "SC_E": "EGamma_energy",
    "SC_pT": "EGamma_pt",
    "SC_eta": "EGamma_eta",
    "SC_phi": "EGamma_phi",
    "SC_label": "EGamma_label",
    # per event
    "runId": "run",
    "lumiId": "luminosityBlock",
    "eventId": "event",
    "MET_pt": "MET_pt",
    "MET_phi": "MET_phi",
    "MET_sumET": "MET_sumET",
    "nVtx": "nVtx",
    "Vtx_x": "PV_x",
    "Vtx_y": "PV_y",
    "Vtx_z": "PV_z",
    "Pileup_nPU": "Pileup_nPU",
    "Pileup_nTrueInt": "Pileup_nTrueInt",
    "Generator_binvar": "Generator_binvar",
    "genWeight": "genWeight",
}
"""e2e branch -> sparse branch it is copied from (bools become int32, like MLAnalyzer's ints)."""


def e2e_per_object(flat: ak.Array) -> dict[str, Any]:
    """The non-image e2e branches of a flattened sparse chunk."""
    out: dict[str, Any] = {}
    for dst, src in E2E_FROM_SPARSE.items():
        arr = ak.Array(flat[src])
        if ak.flatten(arr, axis=None).layout.dtype == np.bool_:
            arr = ak.values_astype(arr, np.int32)
        out[dst] = np.asarray(arr) if arr.ndim == 1 else arr
    return out


def write_e2e(
    path: str | os.PathLike[str],
    chunks: list[SimChunk] | SimChunk,
    *,
    batch: int = 25,
    compression: Any = None,
) -> int:
    """Write chunks as ``fevt/RHTree``; images are built ``batch`` events at a time to bound memory."""
    from .densify import densify

    chunk_list = [chunks] if isinstance(chunks, Mapping) else list(chunks)

    def batches() -> Iterator[dict[str, Any]]:
        for chunk in chunk_list:
            flat = flatten_collections(chunk)
            for start in range(0, len(flat), batch):
                part = flat[start : start + batch]
                data: dict[str, Any] = {
                    name: ak.unflatten(img.reshape(-1), np.full(len(part), img.shape[1]))
                    for name, img in densify(part).items()
                }
                data.update(e2e_per_object(part))
                yield data

    comp = compression if compression is not None else E2E_COMPRESSION
    return write_tree(
        path,
        E2E_TREE,
        batches(),
        compression=comp,
        counter_name=lambda c: f"n_{c}",
        title="e2e-coffea, MLAnalyzer-compatible",
    )


def dense_image(chunk: Any, name: str) -> npt.NDArray[np.float32]:
    """Image ``name`` of every event as (n, H, W) float32, whatever way the file stores it."""
    if name not in E2E_IMAGES:
        msg = f"unknown e2e image {name!r}; expected one of {sorted(E2E_IMAGES)}"
        raise FileLayoutError(msg)
    h, w = E2E_IMAGES[name].shape
    try:
        arr = chunk[name]
    except Exception as err:
        from ..exceptions import MissingBranchError

        msg = f"missing branch {name!r} in the e2e chunk"
        raise MissingBranchError(msg) from err
    n = len(arr)
    if n == 0:
        return np.zeros((0, h, w), np.float32)
    if isinstance(arr, ak.Array) and arr.ndim == 2 and not _is_regular(arr):
        counts = np.asarray(ak.num(arr, axis=1))
        bad = np.flatnonzero(counts != h * w)
        if bad.size:
            msg = (
                f"{name}: entry {entry_of(int(bad[0]))} holds {int(counts[bad[0]])} values, "
                f"expected {h * w} ({h}x{w}); the file is not MLAnalyzer-shaped"
            )
            raise FileLayoutError(msg)
        flat = np.asarray(ak.flatten(arr, axis=1))
    else:
        flat = np.asarray(ak.to_numpy(arr) if isinstance(arr, ak.Array) else arr)
    if flat.size != n * h * w:
        msg = f"{name}: {flat.size} values for {n} events, expected {n * h * w}"
        raise FileLayoutError(msg)
    return flat.astype(np.float32, copy=False).reshape(n, h, w)


def _is_regular(arr: ak.Array) -> bool:
    return isinstance(ak.to_layout(arr), ak.contents.RegularArray)
