"""``simulate_events``: a named process through Pythia, pile-up and the detector.

Events are made in blocks (100 without pile-up): each block is generated, its truth
extracted, its particles (plus pile-up) sent through the detector and assembled into
awkward collections; the blocks are concatenated at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError
from ..layouts import LABEL_IDS, SPARSE_EVENT_BRANCHES
from .assemble import SimChunk, concatenate_chunks, event_record, to_collections
from .detector import Columns, simulate_detector
from .fatjets import GENJET_AK8_MIN_PT, FatJetTruth, cluster_fatjets
from .flavour import jet_flavours
from .generator import (
    PYTHIA_SEED_MAX,
    STREAM_DETECTOR,
    STREAM_PILEUP,
    STREAM_VERTEX,
    BinStats,
    ProcessGenerator,
    derive_seed,
    numpy_rng,
)
from .jets import ClusteredJets, cluster
from .params import DEFAULT_PARAMS, DetectorParams
from .particles import ParticleTable
from .pileup import minbias_pool, overlay_pileup, pool_size
from .processes import PROCESSES
from .record import GenRecord
from .truth import GenTruth, extract_truth, hadronic_top_decays

__all__ = ["BLOCK_EVENTS", "INVISIBLE", "gen_columns", "simulate_events"]

BLOCK_EVENTS = 100
"""Events per generate-and-detect block without pile-up: bounds memory, paces ``progress``."""


def _block_size(mu: float) -> int:
    """Fewer events per block with pile-up, whose particles dominate the memory."""
    return BLOCK_EVENTS if mu <= 10 else max(20, int(BLOCK_EVENTS * 10 / mu))


INVISIBLE = (12, 14, 16)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        msg = f"{name} must be an integer, got {value!r}"
        raise BadInputError(msg)
    if value < lo or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        msg = f"{name} must be in {rng}, got {value}"
        raise BadInputError(msg)
    return int(value)


def _genjets(rec: GenRecord, params: DetectorParams, *, fat: bool = False) -> ClusteredJets:
    """anti-kt GenJets of the visible stable particles (no neutrinos): R = 0.4, or
    R = 0.8 above 100 GeV with soft drop (``fat``, NanoAOD's GenJetAK8)."""
    vis = (rec.status > 0) & ~np.isin(np.abs(rec.id), INVISIBLE)
    cols = (rec.event[vis], rec.px[vis], rec.py[vis], rec.pz[vis], rec.e[vis], rec.n_events)
    if fat:
        return cluster_fatjets(*cols, GENJET_AK8_MIN_PT)
    return cluster(*cols, params.genjet_min_pt)


def _jet_columns(jets: ClusteredJets) -> dict[str, npt.NDArray[Any]]:
    return {"event": jets.event, "pt": jets.pt, "eta": jets.eta, "phi": jets.phi, "mass": jets.mass}


def gen_columns(
    genpart: dict[str, npt.NDArray[Any]],
    vistau: dict[str, npt.NDArray[Any]],
    genjets: ClusteredJets,
    genjets_ak8: ClusteredJets | None = None,
) -> Columns:
    """The generator-level collections (empty dicts become empty collections)."""
    cols: Columns = {"GenPart": genpart, "GenVisTau": vistau, "GenJet": _jet_columns(genjets)}
    if genjets_ak8 is not None:
        cols["GenJetAK8"] = _jet_columns(genjets_ak8)
    return cols


def _fat_truth(rec: GenRecord, truth: GenTruth, genjets_ak8: ClusteredJets) -> FatJetTruth:
    objs = truth.jet_objects
    partons = objs.select(np.isin(objs.label, (LABEL_IDS["quark"], LABEL_IDS["gluon"])))
    return FatJetTruth(hadronic_top_decays(rec), partons, genjets_ak8)


def _generator_met(rec: GenRecord) -> dict[str, npt.NDArray[Any]]:
    """True MET (neutrinos) and visible scalar sum pT, for runs without the detector."""
    fs = rec.status > 0
    inv = fs & np.isin(np.abs(rec.id), INVISIBLE)
    n = rec.n_events
    mex = np.bincount(rec.event[inv], weights=rec.px[inv], minlength=n)
    mey = np.bincount(rec.event[inv], weights=rec.py[inv], minlength=n)
    vis = fs & ~inv
    sum_et = np.bincount(rec.event[vis], weights=np.hypot(rec.px, rec.py)[vis], minlength=n)
    return {"MET_pt": np.hypot(mex, mey), "MET_phi": np.arctan2(mey, mex), "MET_sumET": sum_et}


def simulate_events(
    process: str,
    n_events: int,
    seed: int,
    pileup: float = 0.0,
    *,
    detector: bool = True,
    first_event: int = 0,
    progress: Callable[[int], None] | None = None,
    params: DetectorParams = DEFAULT_PARAMS,
    pileup_seed: int | None = None,
    generator_stats: list[BinStats] | None = None,
) -> SimChunk:
    """Generate ``n_events`` of ``process`` and simulate the detector.

    Reproducible: the same (process, n_events, seed, pileup, first_event) always gives
    bit-identical arrays. Event numbers are ``first_event + 1 ...``; the pT-hat bin of
    sample event i is ``(first_event + i) % n_bins``. ``pileup`` is the mean number of
    extra minimum-bias interactions (Poisson). ``detector=False`` runs Pythia and
    GenJets only: the detector collections come back empty and MET is the true MET.
    ``pileup_seed`` seeds the minimum-bias pool (default: ``seed``); giving all files of
    a sample the same one lets a worker process build the pool once and reuse it.
    ``generator_stats``, when given, receives one :class:`BinStats` per pT-hat bin
    (cross-section, filter counts), from which sample weights follow.
    """
    if process not in PROCESSES:
        msg = f"unknown process {process!r}; valid processes: {', '.join(PROCESSES)}"
        raise BadInputError(msg)
    n_events = _check_int("n_events", n_events, 0)
    seed = _check_int("seed", seed, 0, PYTHIA_SEED_MAX)
    first_event = _check_int("first_event", first_event, 0)
    try:
        mu = float(pileup)
    except (TypeError, ValueError):
        mu = float("nan")
    if not np.isfinite(mu) or mu < 0 or mu > 500:
        msg = f"pileup must be a mean number of interactions in 0..500, got {pileup!r}"
        raise BadInputError(msg)

    gen = ProcessGenerator(PROCESSES[process], seed)
    rng_vtx, rng_det = numpy_rng(seed, STREAM_VERTEX), numpy_rng(seed, STREAM_DETECTOR)
    rng_pu = numpy_rng(seed, STREAM_PILEUP)
    pool = None
    if detector and mu > 0 and n_events > 0:
        pool_seed = (
            seed
            if pileup_seed is None
            else _check_int("pileup_seed", pileup_seed, 0, PYTHIA_SEED_MAX)
        )
        pool = minbias_pool(derive_seed(pool_seed, STREAM_PILEUP), pool_size(mu, n_events))
    blocks: list[SimChunk] = []
    block = _block_size(mu)
    for start in range(0, n_events, block):
        index = first_event + np.arange(start, min(start + block, n_events))
        rec = gen.events(index)
        n = rec.n_events
        pv = np.column_stack(
            [
                rng_vtx.normal(0.0, params.beamspot_sigma_xy, (n, 2)),
                rng_vtx.normal(0.0, params.beamspot_sigma_z, n),
            ]
        )
        n_pu = rng_vtx.poisson(mu, n) if mu > 0 else np.zeros(n, dtype=np.int64)
        truth = extract_truth(rec, pv)
        genjets = _genjets(rec, params)
        genjets_ak8 = _genjets(rec, params, fat=True)
        cols = gen_columns(truth.genpart, truth.vistau, genjets, genjets_ak8)
        if detector:
            parts = rec.final_state(pv)
            if pool is not None:
                parts = ParticleTable.concatenate(
                    [parts, overlay_pileup(pool, n_pu, params, rng_pu)]
                )
            det_cols, met = simulate_detector(
                parts,
                pv,
                n,
                truth.jet_objects,
                truth.prompt_eg,
                genjets,
                params,
                rng_det,
                _fat_truth(rec, truth, genjets_ak8),
            )
            jets = det_cols["Jet"]
            jets.update(jet_flavours(rec, jets["event"], jets["eta"], jets["phi"]))
            cols.update(det_cols)
        else:
            met = _generator_met(rec)
        values = {
            **met,
            "PV_x": pv[:, 0],
            "PV_y": pv[:, 1],
            "PV_z": pv[:, 2],
            "nVtx": 1 + n_pu,
            "Pileup_nPU": n_pu,
            "Pileup_nTrueInt": np.full(n, mu),
            "Generator_binvar": rec.pthat,
            "genWeight": rec.weight,
        }
        blocks.append(
            {**to_collections(cols, n), "event": event_record(values, first_event + start, n)}
        )
        if progress is not None:
            progress(n)
    if generator_stats is not None:
        generator_stats.extend(gen.bin_stats())
    if not blocks:
        return {**to_collections({}, 0), "event": event_record(_zeros_event(0), first_event, 0)}
    return concatenate_chunks(blocks)


def _zeros_event(n: int) -> dict[str, npt.NDArray[Any]]:
    return {k: np.zeros(n) for k in SPARSE_EVENT_BRANCHES[3:]}
