"""The whole parametric detector: particles in, flat reconstructed collections out.

Order of the steps (each a vectorised call over all particles of the chunk):
tracker material (conversions, bremsstrahlung) -> calorimeter deposits -> ECAL/HCAL readout -> tracks and tracker hits -> CaloTower jets, R = 0.4 and 0.8
(seed, label, generator match) -> e/gamma clusters -> missing transverse momentum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .. import geometry as geo
from ..layouts import LABEL_IDS
from .egamma import find_egamma
from .fatjets import FatJetTruth, fatjet_columns
from .jets import (
    JET_R,
    ClusteredJets,
    best_match,
    calo_towers,
    cluster,
    in_frame,
    jet_labels,
    jet_seeds,
    take_matched,
)
from .material import apply_material, take_impact
from .params import DetectorParams
from .particles import ParticleTable
from .readout import Hits, digitise
from .showers import calorimeter_deposits
from .tracking import Tracks, reconstruct_tracks, tracker_hits
from .truth import TruthObjects

__all__ = ["Columns", "ecal_noise_by_row", "missing_et", "simulate_detector"]

F64 = npt.NDArray[np.float64]
Columns = dict[str, dict[str, npt.NDArray[Any]]]
"""Flat columns per collection; each collection also has an ``event`` column."""
GENJET_MATCH_DR = 0.2
"""GenJet match radius of ``Jet_genPt``/``Jet_genMass`` (half the jet radius)."""


def ecal_noise_by_row(params: DetectorParams) -> F64:
    """Per-row crystal noise on the ECAL grid: EB rows quieter than EE rows."""
    rows = np.arange(geo.ECAL_SHAPE[0])
    eb = (rows >= geo.EB_FIRST_ROW) & (rows < geo.EB_FIRST_ROW + geo.EB_SHAPE[0])
    return np.where(eb, params.ecal_noise_eb, params.ecal_noise_ee)


def missing_et(ecal: Hits, hcal: Hits, tracks: Tracks, n_events: int) -> dict[str, F64]:
    """Calorimeter MET (hits as massless deposits at cell centres, fixIP) + muon tracks.

    Muons are minimum ionising in the calorimeters, so their track pT is added, as
    CMS's calo MET corrected for muons does.
    """
    parts = []
    for hits, to_eta, to_phi in (
        (ecal, geo.eta_of_row, geo.phi_of_col),
        (
            hcal,
            lambda i: -geo.ETA_MAX + (i + 0.5) * geo.HCAL_DETA,
            lambda j: -np.pi + (j + 0.5) * geo.HCAL_DPHI,
        ),
    ):
        et = hits.energy / np.cosh(to_eta(hits.row))
        phi = to_phi(hits.col)
        parts.append((hits.event, et, phi))
    mu = np.abs(tracks.pdg) == 13
    parts.append((tracks.event[mu], tracks.pt[mu], tracks.phi[mu]))
    ev = np.concatenate([p[0] for p in parts])
    et = np.concatenate([p[1] for p in parts])
    phi = np.concatenate([p[2] for p in parts])
    mex = -np.bincount(ev, weights=et * np.cos(phi), minlength=n_events)
    mey = -np.bincount(ev, weights=et * np.sin(phi), minlength=n_events)
    return {
        "MET_pt": np.hypot(mex, mey),
        "MET_phi": np.arctan2(mey, mex),
        "MET_sumET": np.bincount(ev, weights=et, minlength=n_events),
    }


def _jets(
    towers: tuple[npt.NDArray[np.int64], F64, F64, F64],
    hcal: Hits,
    jet_objects: TruthObjects,
    genjets: ClusteredJets,
    n_events: int,
    params: DetectorParams,
) -> dict[str, npt.NDArray[Any]]:
    ev, eta, phi, energy = towers
    et = energy / np.cosh(eta)
    jets = cluster(
        ev,
        et * np.cos(phi),
        et * np.sin(phi),
        et * np.sinh(eta),
        energy,
        n_events,
        params.jet_min_pt,
    )
    jets = jets.select(np.abs(jets.eta) < params.jet_max_eta)
    seed_i, seed_j = jet_seeds(jets, hcal)
    label = jet_labels(jets, jet_objects, n_events)
    match = best_match(
        jets.event,
        jets.eta,
        jets.phi,
        genjets.event,
        genjets.eta,
        genjets.phi,
        n_events,
        GENJET_MATCH_DR,
    )
    taus = jet_objects.label == LABEL_IDS["tau"]
    tau_match = best_match(
        jets.event,
        jets.eta,
        jets.phi,
        jet_objects.event[taus],
        jet_objects.eta[taus],
        jet_objects.phi[taus],
        n_events,
        JET_R,
    )
    return {
        "event": jets.event,
        "pt": jets.pt,
        "eta": jets.eta,
        "phi": jets.phi,
        "mass": jets.mass,
        "seedIeta": seed_i,
        "seedIphi": seed_j,
        "label": label,
        "isTau": label == LABEL_IDS["tau"],
        "isEle": label == LABEL_IDS["electron"],
        "inFrame": in_frame(seed_i),
        "genPt": take_matched(genjets.pt, match, -1.0),
        "genMass": take_matched(genjets.mass, match, -1.0),
        "genVisTauPt": take_matched(jet_objects.pt[taus], tau_match, -1.0),
        # flavour needs the generator record (sim.flavour); a particle gun has none
        "hadronFlavour": np.zeros(len(jets.pt), dtype=np.int8),
        "partonFlavour": np.zeros(len(jets.pt), dtype=np.int16),
    }


def simulate_detector(
    parts: ParticleTable,
    pv: F64,
    n_events: int,
    jet_objects: TruthObjects,
    prompt_eg: TruthObjects,
    genjets: ClusteredJets,
    params: DetectorParams,
    rng: np.random.Generator,
    fat_truth: FatJetTruth | None = None,
) -> tuple[Columns, dict[str, F64]]:
    """Reconstructed collections (flat columns) and event-level MET of a chunk.

    ``fat_truth`` labels the FatJets and matches them to generator jets; without it
    (a particle gun) they are ``unmatched``.
    """
    # Tracks keep the momentum at the vertex (pre-brem, as the GSF fit's inner state)
    # and point to where the radiating electron meets the ECAL; conversion legs make
    # tracker hits but no tracks (they start outside the seeding layers mostly).
    mat = apply_material(parts, params, rng)
    ecal_dep, hcal_dep, imp_calo = calorimeter_deposits(mat.calo, params, rng)
    imp = take_impact(imp_calo, mat.continues)
    ecal_noise = ecal_noise_by_row(params)
    ecal = digitise(
        ecal_dep,
        n_events,
        geo.ECAL_SHAPE,
        ecal_noise,
        params.ecal_zs_nsigma * ecal_noise,
        rng,
        (params.ecal_time_noise_ns, params.ecal_time_constant_ns),
    )
    hcal_noise = np.full(geo.HCAL_SHAPE[0], params.hcal_noise)
    hcal = digitise(
        hcal_dep,
        n_events,
        geo.HCAL_SHAPE,
        hcal_noise,
        np.full(geo.HCAL_SHAPE[0], params.hcal_threshold),
        rng,
    )
    tracks = reconstruct_tracks(parts, imp, pv, params, rng)
    thits = tracker_hits(mat.segments, pv, params, rng, r_max=mat.segment_r_max)
    eg = find_egamma(ecal, prompt_eg, n_events, params)
    towers = calo_towers(ecal, hcal, n_events, params.tower_ecal_min, params.tower_min)
    cols: Columns = {
        "EcalHit": {
            "event": ecal.event,
            "row": ecal.row,
            "col": ecal.col,
            "energy": ecal.energy,
            "time": ecal.time,
        },
        "HcalHit": {"event": hcal.event, "ieta": hcal.row, "iphi": hcal.col, "energy": hcal.energy},
        "Track": {
            "event": tracks.event,
            "pt": tracks.pt,
            "eta": tracks.eta,
            "phi": tracks.phi,
            "charge": tracks.charge,
            "etaAtEcal": tracks.eta_ecal,
            "phiAtEcal": tracks.phi_ecal,
            "row": tracks.row,
            "col": tracks.col,
            "d0": tracks.d0,
            "dz": tracks.dz,
            "d0sig": tracks.d0sig,
            "dzsig": tracks.dzsig,
        },
        "TrackerHit": {
            "event": thits.event,
            "layer": thits.layer,
            "row": thits.row,
            "col": thits.col,
        },
        "Jet": _jets(towers, hcal, jet_objects, genjets, n_events, params),
        "FatJet": fatjet_columns(towers, n_events, fat_truth, params.jet_max_eta),
        "EGamma": {
            "event": eg.event,
            "seedRow": eg.seed_row,
            "seedCol": eg.seed_col,
            "energy": eg.energy,
            "pt": eg.pt,
            "eta": eg.eta,
            "phi": eg.phi,
            "label": eg.label,
        },
    }
    return cols, missing_et(ecal, hcal, tracks, n_events)
