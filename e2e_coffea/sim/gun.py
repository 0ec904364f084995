"""Particle gun: given particles through the detector, without Pythia.

For physics validation (single-particle response, resolution) and for unit tests of
the frame builders: the same detector as ``simulate_events``, fed by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import awkward as ak
import numpy as np

from ..exceptions import BadInputError
from ..layouts import LABEL_IDS
from .assemble import SimChunk, event_record, to_collections
from .detector import simulate_detector
from .events import INVISIBLE, gen_columns
from .jets import cluster
from .params import DEFAULT_PARAMS, DetectorParams
from .particles import ParticleTable
from .record import charges_of
from .truth import TruthObjects

__all__ = ["GUN_FIELDS", "simulate_particles"]


@lru_cache(maxsize=1)
def _charge_lookup() -> Callable[[int], float]:
    """Pythia's particle table, the one source of charges for generator and gun."""
    import pythia8mc

    charge: Callable[[int], float] = pythia8mc.Pythia("", False).particleData.charge
    return charge


GUN_FIELDS = ("pdgId", "px", "py", "pz", "E", "vx", "vy", "vz")


def simulate_particles(
    particles: ak.Array,
    rng: np.random.Generator | int,
    params: DetectorParams = DEFAULT_PARAMS,
) -> SimChunk:
    """Particle gun: shoot given particles (one list per event) through the detector.

    ``particles`` is an ``n_events * var * {pdgId, px, py, pz, E, vx, vy, vz}`` array;
    momenta in GeV, production vertices in **cm** from the nominal origin, which is
    also the primary vertex. The gun's electrons and photons count as prompt (they
    label EGamma candidates and jets); GenPart lists the gun particles.
    """
    missing = [f for f in GUN_FIELDS if f not in ak.fields(particles)]
    if missing:
        msg = f"particle gun input lacks fields {missing}; expected {list(GUN_FIELDS)}"
        raise BadInputError(msg)
    if isinstance(rng, int | np.integer):
        rng = np.random.default_rng(int(rng))
    n = len(particles)
    counts = ak.to_numpy(ak.num(particles)).astype(np.int64)
    flat = {f: ak.to_numpy(ak.flatten(particles[f])) for f in GUN_FIELDS}
    for f in GUN_FIELDS[1:]:
        if not np.all(np.isfinite(flat[f])):
            msg = f"particle gun field {f!r} has non-finite values"
            raise BadInputError(msg)
    event = np.repeat(np.arange(n, dtype=np.int64), counts)
    pdg = flat["pdgId"].astype(np.int32)
    px, py, pz, e = (flat[k].astype(np.float64) for k in ("px", "py", "pz", "E"))
    parts = ParticleTable(
        event=event,
        pdg=pdg,
        charge=charges_of(pdg, _charge_lookup()),
        px=px,
        py=py,
        pz=pz,
        e=e,
        x=flat["vx"].astype(np.float64),
        y=flat["vy"].astype(np.float64),
        z=flat["vz"].astype(np.float64),
        t=np.zeros(len(event)),
        pileup=np.zeros(len(event), dtype=bool),
    )
    pv = np.zeros((n, 3))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    phi = np.arctan2(py, px)
    a = np.abs(pdg)
    eg = (a == 11) | (a == 22)
    eg_label = np.where(a[eg] == 11, LABEL_IDS["electron"], LABEL_IDS["photon"])
    prompt = TruthObjects(event[eg], pt[eg], eta[eg], phi[eg], eg_label.astype(np.int64))
    vis = ~np.isin(a, INVISIBLE)
    genjets = cluster(event[vis], px[vis], py[vis], pz[vis], e[vis], n, params.genjet_min_pt)
    det_cols, met = simulate_detector(parts, pv, n, prompt, prompt, genjets, params, rng)
    mass = np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))
    genpart = {
        "event": event,
        "pdgId": pdg,
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "mass": mass,
        "vx": parts.x,
        "vy": parts.y,
        "vz": parts.z,
    }
    cols = {**gen_columns(genpart, {}, genjets), **det_cols}
    values = {
        **met,
        "PV_x": pv[:, 0],
        "PV_y": pv[:, 1],
        "PV_z": pv[:, 2],
        "nVtx": np.ones(n),
        "Pileup_nPU": np.zeros(n),
        "Pileup_nTrueInt": np.zeros(n),
        "Generator_binvar": np.zeros(n),  # a particle gun has no hard process
        "genWeight": np.ones(n),
    }
    return {**to_collections(cols, n), "event": event_record(values, 0, n)}
