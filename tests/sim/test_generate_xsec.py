"""Cross-sections and event counts in the fileset: Pythia's estimate in pb per dataset and
file, the filter efficiency and hadron-level branching fractions folded in, and one
dataset per pT-hat bin holding exactly the events of that bin."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import uproot

from e2e_coffea.io import load_fileset
from e2e_coffea.sim import PROCESSES
from e2e_coffea.sim.generate import generate
from e2e_coffea.sim.generator import BinStats, make_pythia, open_fraction
from e2e_coffea.sim.xsec import combine_bins

TAU_HADRONIC_BR = 1.0 - 0.1782 - 0.1739
"""B(tau -> hadrons nu) = 1 - B(e nu nu) - B(mu nu nu) [PDG, Phys. Rev. D 110 (2024) 030001]."""


def stats(sigma_mb: float, err_mb: float, events: int, tried: int, accepted: int) -> BinStats:
    return BinStats(0, None, sigma_mb, err_mb, events, tried, accepted, accepted)


def test_combination_weights_files_by_their_pythia_events() -> None:
    a, b = stats(2.0e-6, 1.0e-7, 100, 100, 100), stats(1.0e-6, 2.0e-7, 300, 300, 300)
    c = combine_bins([a, b])
    sigma = (100 * 2.0e-6 + 300 * 1.0e-6) / 400  # mb
    assert c["xsec_pb"] == pytest.approx(sigma * 1e9)  # 1 mb = 1e9 pb
    err = math.hypot(100 * 1.0e-7, 300 * 2.0e-7) / 400
    assert c["xsec_err_pb"] == pytest.approx(err * 1e9)
    assert "filter_efficiency" not in c
    filtered = combine_bins([stats(1.0e-3, 0.0, 50, 1000, 250)])
    assert filtered["filter_efficiency"] == pytest.approx(0.25)
    assert filtered["xsec_pb"] == pytest.approx(0.25 * 1.0e-3 * 1e9)
    assert filtered["xsec_err_pb"] == pytest.approx(filtered["xsec_pb"] * math.sqrt(0.75 / 250))


def test_tau_sample_keeps_the_hadronic_branching_fraction() -> None:
    pythia = make_pythia(PROCESSES["tau"].bin_settings()[0], 5)
    assert open_fraction(pythia, 15) == pytest.approx(TAU_HADRONIC_BR, rel=0.005)
    assert open_fraction(pythia, 11) == 1.0  # stable: nothing switched off
    assert PROCESSES["tau"].restricted_decays == ((15, 2),)


def _events(files: list[str]) -> np.ndarray:
    return np.sort(
        np.concatenate([uproot.open(f)["Events"]["event"].array(library="np") for f in files])
    )


def test_one_dataset_per_pthat_bin_holds_that_bins_events(tmp_path: Path) -> None:
    mixed = load_fileset(
        generate(["qcd", "tau"], 9, tmp_path / "m", seed=3, events_per_file=5)["sparse"]
    )
    split = load_fileset(generate(["qcd"], 9, tmp_path / "s", seed=3, events_per_file=5,
                                  pthat_datasets=True)["sparse"])  # fmt: skip
    m = mixed["qcd"]["metadata"]
    assert m["xsec_pb"] is None  # one number would weight the bins wrongly
    assert m["nevents"] == 9
    bins = PROCESSES["qcd"].pthat_bins
    assert m["nevents_per_bin"] == [len(range(b, 9, len(bins))) for b in range(len(bins))]
    assert sorted(split) == sorted(f"qcd_pthat{lo}to{hi}" for lo, hi in bins)
    events = _events(list(mixed["qcd"]["files"]))
    for b, edges in enumerate(PROCESSES["qcd"].pthat_bins):
        ds = split[f"qcd_pthat{edges[0]}to{edges[1]}"]
        meta = ds["metadata"]
        assert meta["pthat_bin"] == list(edges)
        assert meta["process"] == "qcd"
        # the same events as the mixed sample's bin b, the same cross-section
        np.testing.assert_array_equal(
            _events(list(ds["files"])), events[(events - 1) % len(bins) == b]
        )
        assert meta["nevents"] == m["nevents_per_bin"][b]
        assert meta["xsec_pb"] == pytest.approx(m["xsec_pb_per_bin"][b])
        assert meta["xsec_err_pb"] == pytest.approx(m["xsec_err_pb_per_bin"][b])
        assert sum(f["nevents"] for f in meta["files"].values()) == meta["nevents"]
    xs = m["xsec_pb_per_bin"]
    assert len(xs) == len(bins)
    assert list(xs) == sorted(xs, reverse=True)  # harder pT-hat bins: smaller cross-sections
    assert min(xs) > 0
    tau = mixed["tau"]["metadata"]
    assert tau["decay_fraction"] == pytest.approx(TAU_HADRONIC_BR**2, rel=0.01)
    assert tau["xsec_pb"] == pytest.approx(tau["sigma_gen_pb"] * tau["decay_fraction"])
    assert tau["nevents"] == 9
