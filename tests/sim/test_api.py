"""The public API: schema and dtypes, determinism, numbering, errors, pile-up."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.layouts import LABELS, SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES
from e2e_coffea.sim import (
    EVENT_DTYPES,
    FIELD_DTYPES,
    PROCESSES,
    pthat_bin_of_event,
    simulate_events,
    simulate_particles,
)

DETECTOR_COLLECTIONS = ("EcalHit", "HcalHit", "Track", "TrackerHit", "Jet", "EGamma")


def _dtype(arr: ak.Array) -> np.dtype:
    return ak.to_numpy(ak.flatten(arr, axis=None)).dtype


def check_chunk(chunk: dict[str, ak.Array], n: int) -> None:
    """Everything a writer and the frame builders rely on."""
    assert set(chunk) == set(SPARSE_COLLECTIONS) | {"event"}
    for name, fields in SPARSE_COLLECTIONS.items():
        coll = chunk[name]
        assert len(coll) == n
        assert tuple(coll.fields) == fields
        assert ak.type(coll).content.__class__.__name__ == "ListType"  # var * record
        for f in fields:
            assert _dtype(coll[f]) == np.dtype(FIELD_DTYPES[name][f]), (name, f)
    ev = chunk["event"]
    assert tuple(ev.fields) == SPARSE_EVENT_BRANCHES
    for f in SPARSE_EVENT_BRANCHES:
        assert ak.to_numpy(ev[f]).dtype == np.dtype(EVENT_DTYPES[f]), f
    # each calorimeter cell at most once per event, all on the grids
    for name, r, c, shape in (
        ("EcalHit", "row", "col", geo.ECAL_SHAPE),
        ("HcalHit", "ieta", "iphi", geo.HCAL_SHAPE),
    ):
        h = chunk[name]
        rows, cols = ak.to_numpy(ak.flatten(h[r])), ak.to_numpy(ak.flatten(h[c]))
        assert np.all((rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1]))
        evt = np.repeat(np.arange(n), ak.to_numpy(ak.num(h)))
        key = (evt * shape[0] + rows) * shape[1] + cols
        assert len(np.unique(key)) == len(key), name
        assert ak.all(h.energy > 0)
    trk = chunk["Track"]
    assert ak.all(
        ((trk.row >= 0) & (trk.row < 280) & (trk.col >= 0) & (trk.col < 360))
        | ((trk.row == -1) & (trk.col == -1))
    )
    th = chunk["TrackerHit"]
    assert ak.all((th.layer >= 0) & (th.layer < 8) & (th.row >= 0) & (th.row < 280))
    eg = chunk["EGamma"]
    assert ak.all((eg.seedRow >= 0) & (eg.seedRow < 170) & (eg.seedCol >= 0) & (eg.seedCol < 360))
    for name in ("Track", "Jet", "GenJet", "EGamma", "GenPart", "GenVisTau"):
        assert ak.all(abs(chunk[name].phi) <= np.pi), name
    for name in ("Jet", "EGamma"):
        assert set(np.unique(ak.to_numpy(ak.flatten(chunk[name].label))).tolist()) <= set(LABELS)
    assert np.all(ak.to_numpy(ev.nVtx) == 1 + ak.to_numpy(ev.Pileup_nPU))


@pytest.mark.parametrize("process", list(PROCESSES))
def test_every_process_gives_a_valid_chunk(process):
    chunk = simulate_events(process, 3, seed=21, first_event=5)
    check_chunk(chunk, 3)
    assert ak.to_list(chunk["event"].event) == [6, 7, 8]
    assert ak.sum(ak.num(chunk["EcalHit"])) > 0
    assert ak.sum(ak.num(chunk["GenPart"])) > 0
    bins = PROCESSES[process].pthat_bins
    if bins:  # bin of sample event i = i % n_bins, i counted from first_event = 5
        gp = chunk["GenPart"]
        parton = (abs(gp.pdgId) <= 5) | (gp.pdgId == 21)
        lead = ak.to_numpy(ak.max(gp.pt[parton], axis=1))
        for i, pt in zip(range(5, 8), lead, strict=True):
            lo, hi = bins[pthat_bin_of_event(process, i)]
            assert lo <= pt <= hi


def test_session_samples_are_valid(tau_chunk, qcd_chunk, electron_chunk, pion_gun):
    for chunk in (tau_chunk, qcd_chunk, electron_chunk, pion_gun):
        check_chunk(chunk, len(chunk["event"]))


def _same(a: dict[str, ak.Array], b: dict[str, ak.Array]) -> bool:
    return all(ak.array_equal(a[k], b[k], equal_nan=True) for k in a)


def test_reproducible_and_seed_dependent():
    a = simulate_events("tau", 6, seed=77)
    b = simulate_events("tau", 6, seed=77)
    c = simulate_events("tau", 6, seed=78)
    assert _same(a, b)
    assert not ak.array_equal(a["GenPart"], c["GenPart"])
    assert not ak.array_equal(a["EcalHit"], c["EcalHit"])


def test_generator_only_matches_full_run():
    full = simulate_events("photon", 5, seed=9)
    gen = simulate_events("photon", 5, seed=9, detector=False)
    check_chunk(gen, 5)
    for name in ("GenPart", "GenJet", "GenVisTau"):
        assert ak.array_equal(full[name], gen[name])
    for name in DETECTOR_COLLECTIONS:
        assert ak.sum(ak.num(gen[name])) == 0
    for f in ("event", "PV_x", "PV_z", "nVtx"):
        assert ak.array_equal(full["event"][f], gen["event"][f])


def test_numbering_and_progress():
    seen: list[int] = []
    chunk = simulate_events("electron", 7, seed=3, first_event=1996, progress=seen.append)
    assert sum(seen) == 7
    ev = chunk["event"]
    assert ak.to_list(ev.event) == list(range(1997, 2004))
    assert ak.to_list(ev.luminosityBlock) == [2, 2, 2, 2, 3, 3, 3]
    assert ak.all(ev.run == 1)


def test_zero_events():
    chunk = simulate_events("qcd", 0, seed=1)
    check_chunk(chunk, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"process": "higgs"}, "valid processes: tau, qcd"),
        ({"seed": -1}, "seed must be in 0..900000000"),
        ({"seed": 900_000_001}, "got 900000001"),
        ({"n_events": -2}, "n_events"),
        ({"n_events": 2.5}, "integer"),
        ({"pileup": -1.0}, "pileup"),
        ({"first_event": -1}, "first_event"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = {"process": "tau", "n_events": 1, "seed": 1, **kwargs}
    with pytest.raises(BadInputError, match=match):
        simulate_events(**args)


def test_gun_rejects_incomplete_input():
    with pytest.raises(BadInputError, match="lacks fields"):
        simulate_particles(ak.Array([[{"pdgId": 11, "px": 1.0}]]), rng=1)


def test_pileup_adds_displaced_vertices():
    clean = simulate_events("qcd", 8, seed=4)
    piled = simulate_events("qcd", 8, seed=4, pileup=25)
    check_chunk(piled, 8)
    ev = piled["event"]
    assert 10 < np.mean(ak.to_numpy(ev.Pileup_nPU)) < 45
    assert ak.array_equal(clean["GenPart"], piled["GenPart"])
    assert ak.array_equal(clean["event"].PV_z, ev.PV_z)
    for name in ("Track", "EcalHit", "TrackerHit"):
        assert ak.sum(ak.num(piled[name])) > 3 * ak.sum(ak.num(clean[name]))
    # pile-up tracks come from other vertices: far in z from the primary vertex
    far = lambda c: np.mean(np.abs(ak.to_numpy(ak.flatten(c["Track"].dz))) > 0.5)  # noqa: E731
    assert far(clean) < 0.05
    assert far(piled) > 0.5


def test_wjets_has_a_leptonic_w_and_no_tau_jets():
    """The tau fake source: every event has a W decaying to e or mu, so no jet is a tau,
    and Pythia's cross-section is of the order of the measured W(-> l nu) + jet rate."""
    stats: list = []
    chunk = simulate_events("wjets", 12, seed=4, generator_stats=stats)
    gen = chunk["GenPart"]
    assert ak.all(ak.any(abs(gen.pdgId) == 24, axis=1))
    # GenPart keeps prompt electrons (not muons): about half the W's give one
    assert 0 < ak.sum(ak.any(abs(gen.pdgId) == 11, axis=1)) < len(gen)
    assert not ak.any(chunk["Jet"].isTau)
    sigma_nb = stats[0].sigma_mb * 1e6
    assert 2.0 < sigma_nb < 30.0
