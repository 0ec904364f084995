"""Synthetic chunks in both layouts, for tests and benchmarks of the frame builders.

Not physics: hits are clustered around random jet seeds (so a jet window holds a few
hundred of them) plus a uniform background, with realistic multiplicities and the
dtypes of the sparse layout. ECAL crystals and HCAL towers are unique per event (as in
real rechit collections); tracks and tracker hits may share cells, which exercises the
in-order float32 sums.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from .. import geometry as geo

__all__ = ["sparse_to_e2e_chunk", "synthetic_sparse_chunk", "write_synthetic_fileset"]

E_ROWS, E_COLS = geo.ECAL_SHAPE
H_ROWS, H_COLS = geo.HCAL_SHAPE


def _counts(rng: np.random.Generator, n: int, mean: float) -> npt.NDArray[np.int64]:
    return rng.poisson(mean, n).astype(np.int64) if mean > 0 else np.zeros(n, np.int64)


def _near(
    rng: np.random.Generator,
    counts: npt.NDArray[np.int64],
    seed_row: list[npt.NDArray[np.int64]],
    seed_col: list[npt.NDArray[np.int64]],
    spread: float,
    shape: tuple[int, int],
    near: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Event, row, col of hits: a fraction ``near`` around a seed of their event."""
    ev = np.repeat(np.arange(len(counts)), counts)
    n = len(ev)
    row = rng.integers(0, shape[0], n)
    col = rng.integers(0, shape[1], n)
    n_seeds = np.array([len(s) for s in seed_row]) if seed_row else np.zeros(len(counts), int)
    has = n_seeds[ev] > 0 if len(ev) else np.zeros(0, bool)
    pick = has & (rng.random(n) < near)
    if pick.any():
        k = (rng.random(int(pick.sum())) * n_seeds[ev[pick]]).astype(np.int64)
        r_c = np.array([seed_row[e][i] for e, i in zip(ev[pick], k, strict=True)])
        c_c = np.array([seed_col[e][i] for e, i in zip(ev[pick], k, strict=True)])
        row[pick] = np.clip(np.rint(r_c + rng.normal(0, spread, len(k))), 0, shape[0] - 1)
        col[pick] = np.rint(c_c + rng.normal(0, spread, len(k))).astype(np.int64) % shape[1]
    return ev, row, col


def _unique_cells(
    ev: npt.NDArray[np.int64],
    row: npt.NDArray[np.int64],
    col: npt.NDArray[np.int64],
    width: int,
    n_events: int,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    key = np.unique(ev * 1_000_000 + row * width + col)
    ev, cell = key // 1_000_000, key % 1_000_000
    return ev, cell // width, cell % width, np.bincount(ev, minlength=n_events)


def synthetic_sparse_chunk(
    n_events: int,
    *,
    seed: int = 0,
    ecal: float = 1000,
    hcal: float = 200,
    tracks: float = 300,
    tracker: float = 2000,
    jets: float = 2,
    egamma: float = 1,
    near: float = 0.6,
    spread: float = 10.0,
    seed_rows: tuple[int, int] = (0, H_ROWS),
) -> ak.Array:
    """A sparse-layout chunk (flat branch names, sparse-layout dtypes) of ``n_events``.

    Means are per event (Poisson). ``jets`` may be fractional; every event gets
    ``round(jets)`` jets when it is an integer. Seeds cover all of ``seed_rows`` x 0..71,
    so windows cross the eta edges and the phi seam.
    """
    rng = np.random.default_rng(seed)
    njet = (
        np.full(n_events, int(jets), np.int64)
        if float(jets).is_integer()
        else _counts(rng, n_events, jets)
    )
    jev = np.repeat(np.arange(n_events), njet)
    ieta = rng.integers(seed_rows[0], seed_rows[1], len(jev))
    iphi = rng.integers(0, H_COLS, len(jev))
    split = np.cumsum(njet)[:-1]
    crow = np.split(5 * ieta + 2, split)
    ccol = np.split(5 * iphi + 2, split)
    d: dict[str, Any] = {}

    def put(coll: str, counts: npt.NDArray[np.int64], **fields: npt.NDArray[Any]) -> None:
        d[f"n{coll}"] = counts.astype(np.int32)
        for k, v in fields.items():
            d[f"{coll}_{k}"] = ak.unflatten(v, counts)

    ev, r, c = _near(rng, _counts(rng, n_events, ecal), crow, ccol, spread, geo.ECAL_SHAPE, near)
    ev, r, c, cnt = _unique_cells(ev, r, c, E_COLS, n_events)
    put(
        "EcalHit",
        cnt,
        row=r.astype(np.int16),
        col=c.astype(np.int16),
        energy=rng.exponential(0.5, len(ev)).astype(np.float32),
        time=rng.normal(0, 1.0, len(ev)).astype(np.float32),
    )

    trow = [x // 5 for x in crow]
    tcol = [x // 5 for x in ccol]
    ev, r, c = _near(
        rng, _counts(rng, n_events, hcal), trow, tcol, spread / 5, geo.HCAL_SHAPE, near
    )
    ev, r, c, cnt = _unique_cells(ev, r, c, H_COLS, n_events)
    put(
        "HcalHit",
        cnt,
        ieta=r.astype(np.int16),
        iphi=c.astype(np.int16),
        energy=rng.exponential(2.0, len(ev)).astype(np.float32),
    )

    cnt = _counts(rng, n_events, tracks)
    ev, r, c = _near(rng, cnt, crow, ccol, spread, geo.ECAL_SHAPE, near)
    miss = rng.random(len(ev)) < 0.05
    r[miss], c[miss] = -1, -1
    d0 = rng.normal(0, 0.05, len(ev)).astype(np.float32)
    dz = rng.normal(0, 0.5, len(ev)).astype(np.float32)
    put(
        "Track",
        cnt,
        pt=rng.exponential(2.0, len(ev)).astype(np.float32),
        eta=geo.eta_of_row(np.maximum(r, 0)).astype(np.float32),
        phi=geo.phi_of_col(np.maximum(c, 0)).astype(np.float32),
        charge=rng.choice(np.array([-1, 1], np.int8), len(ev)),
        etaAtEcal=geo.eta_of_row(r).astype(np.float32),
        phiAtEcal=geo.phi_of_col(c).astype(np.float32),
        row=r.astype(np.int16),
        col=c.astype(np.int16),
        d0=d0,
        dz=dz,
        d0sig=(d0 / np.float32(0.01)).astype(np.float32),
        dzsig=(dz / np.float32(0.02)).astype(np.float32),
    )

    cnt = _counts(rng, n_events, tracker)
    ev, r, c = _near(rng, cnt, crow, ccol, spread, geo.ECAL_SHAPE, near)
    put(
        "TrackerHit",
        cnt,
        layer=rng.integers(0, 8, len(ev)).astype(np.int8),
        row=r.astype(np.int16),
        col=c.astype(np.int16),
    )

    eta = (geo.eta_of_row(5 * ieta + 2) + rng.normal(0, 0.02, len(jev))).astype(np.float32)
    phi = geo.wrap_phi(geo.phi_of_col(5 * iphi + 2) + rng.normal(0, 0.02, len(jev))).astype(
        np.float32
    )
    put(
        "Jet",
        njet,
        pt=rng.exponential(50.0, len(jev)).astype(np.float32) + 20,
        eta=eta,
        phi=phi,
        mass=rng.exponential(10.0, len(jev)).astype(np.float32),
        seedIeta=ieta.astype(np.int16),
        seedIphi=iphi.astype(np.int16),
        label=rng.integers(0, 6, len(jev)).astype(np.int32),
        isTau=np.zeros(len(jev), np.int8),
        isEle=np.zeros(len(jev), np.int8),
        inFrame=((ieta >= 12) & (ieta <= 43)).astype(np.int8),
        genPt=rng.exponential(50.0, len(jev)).astype(np.float32),
    )

    neg = (
        _counts(rng, n_events, egamma)
        if not float(egamma).is_integer()
        else np.full(n_events, int(egamma), np.int64)
    )
    m = int(neg.sum())
    srow = rng.integers(0, geo.EB_SHAPE[0], m)
    scol = rng.integers(0, geo.EB_SHAPE[1], m)
    put(
        "EGamma",
        neg,
        seedRow=srow.astype(np.int16),
        seedCol=scol.astype(np.int16),
        energy=rng.exponential(30.0, m).astype(np.float32),
        pt=rng.exponential(20.0, m).astype(np.float32),
        eta=geo.eta_of_row(srow + geo.EB_FIRST_ROW).astype(np.float32),
        phi=geo.phi_of_col(scol).astype(np.float32),
        label=rng.integers(3, 5, m).astype(np.int32),
    )
    d["event"] = np.arange(n_events, dtype=np.uint64)
    return ak.zip(d, depth_limit=1)


_JET_RENAME = {
    "jetSeed_ieta": "Jet_seedIeta",
    "jetSeed_iphi": "Jet_seedIphi",
    "jet_Pt": "Jet_pt",
    "jet_Eta": "Jet_eta",
    "jet_Phi": "Jet_phi",
    "jet_M": "Jet_mass",
    "jet_label": "Jet_label",
    "jet_inFrame": "Jet_inFrame",
}
_SC_RENAME = {
    "SC_ieta": "EGamma_seedRow",
    "SC_iphi": "EGamma_seedCol",
    "SC_E": "EGamma_energy",
    "SC_pT": "EGamma_pt",
    "SC_eta": "EGamma_eta",
    "SC_phi": "EGamma_phi",
    "SC_label": "EGamma_label",
}


def sparse_to_e2e_chunk(
    chunk: Any, images: dict[str, npt.NDArray[np.float32]] | None = None
) -> ak.Array:
    """The e2e-layout chunk a reader would return for the same events: dense images
    (``densify``) as ``var * float32`` plus the jet and e/gamma branches renamed."""
    from ..io.densify import densify

    imgs = densify(chunk) if images is None else images
    d: dict[str, Any] = {k: ak.unflatten(v.reshape(-1), v.shape[1]) for k, v in imgs.items()}
    for new, old in {**_JET_RENAME, **_SC_RENAME}.items():
        if old in chunk.fields:
            d[new] = chunk[old]
    return ak.zip(d, depth_limit=1)


def write_synthetic_fileset(
    folder: str | Path, *, files: int = 2, events: int = 100, seed: int = 0, **kw: Any
) -> Path:
    """``files`` sparse ROOT files of :func:`synthetic_sparse_chunk` events and their
    fileset JSON (dataset ``synthetic``): a main-job input for GPU checks and throughput
    benchmarks that must run where Pythia is not installed. Returns the fileset path."""
    import json

    import uproot

    from ..io.files import SPARSE_COMPRESSION
    from ..layouts import SPARSE_COLLECTIONS, SPARSE_TREE

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i in range(files):
        chunk = synthetic_sparse_chunk(events, seed=seed + i, **kw)
        data: dict[str, Any] = {}
        for coll, fields in SPARSE_COLLECTIONS.items():
            have = [f for f in fields if f"{coll}_{f}" in chunk.fields]
            if have:
                data[coll] = ak.zip({f: chunk[f"{coll}_{f}"] for f in have})
        data["event"] = np.asarray(chunk["event"])
        path = out / f"synthetic_{i:03d}.sparse.root"
        with uproot.recreate(path, compression=SPARSE_COMPRESSION) as f:
            types = {k: ak.type(v) if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
            f.mktree(SPARSE_TREE, types).extend(data)
        paths[str(path.resolve())] = SPARSE_TREE
    fileset = out / "fileset.sparse.json"
    fileset.write_text(json.dumps({"synthetic": {"files": paths, "metadata": {}}}, indent=1))
    return fileset
