"""Single-feature baselines: each feature computed by hand on a two-event chunk."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.processor.features import EventColumns, object_features, to_unit


def _chunk() -> ak.Array:
    return ak.Array({
        "MET_pt": [10.0, 40.0],
        "Generator_binvar": [35.0, 400.0],
        "nVtx": [1, 36],
        # event 0: three tracks near jet 0 (one below 1 GeV), one far away; event 1: none
        "Track_pt": [[5.0, 2.0, 0.5, 9.0], []],
        "Track_eta": [[0.1, 0.0, 0.05, 2.0], []],
        "Track_phi": [[0.0, 0.3, 0.0, 0.0], []],
        # event 0: jet 0 at (0, 0), jet 1 at dR 0.8, jet 2 at dR 1.5; event 1: one jet
        "Jet_pt": [[50.0, 30.0, 70.0], [25.0]],
        "Jet_eta": [[0.0, 0.8, 0.0], [1.0]],
        "Jet_phi": [[0.0, 0.0, 1.5], [-3.1]],
    })  # fmt: skip


def test_features_by_hand() -> None:
    cols = EventColumns.of(_chunk(), "sparse")
    event, index = np.array([0, 0, 1]), np.array([0, 1, 0])
    feats, nvtx = object_features(
        cols, "jet", event, index,
        pt=[50.0, 30.0, 25.0], eta=[0.0, 0.8, 1.0], phi=[0.0, 0.0, -3.1],
    )  # fmt: skip
    np.testing.assert_array_equal(nvtx, [1, 1, 36])
    np.testing.assert_array_equal(feats["met"], [10.0, 10.0, 40.0])
    np.testing.assert_array_equal(feats["pthat"], [35.0, 35.0, 400.0])
    np.testing.assert_array_equal(feats["abs_eta"], [0.0, 0.8, 1.0])
    # jet 0: the 5 and 2 GeV tracks (dR 0.1 and 0.3); the 0.5 GeV one is below 1 GeV
    np.testing.assert_array_equal(feats["n_charged"], [2, 0, 0])
    # jet 0 sees jet 1 (dR 0.8), not jet 2 (dR 1.5) nor itself; jet 1 sees jet 0
    np.testing.assert_array_equal(feats["sum_pt_jets_dr1"], [30.0, 50.0, 0.0])
    # an e/gamma object: its own jet (dR < 0.4) is not an "other" jet
    eg, _ = object_features(
        cols, "eg", np.array([0]), np.array([0]), pt=[20.0], eta=[0.05], phi=[0.0]
    )
    assert eg["sum_pt_jets_dr1"][0] == 30.0


def test_missing_inputs_give_nan_and_the_map_keeps_order() -> None:
    chunk = _chunk()
    cols = EventColumns.of(chunk[["MET_pt", "Jet_pt", "Jet_eta", "Jet_phi"]], "sparse")
    feats, nvtx = object_features(
        cols, "jet", np.array([0]), np.array([0]), pt=[50.0], eta=[0.0], phi=[0.0]
    )
    assert np.isnan(feats["n_charged"]).all()  # no tracks in the file: not invented
    assert np.isnan(nvtx).all()
    x = np.array([0.0, 5.0, 50.0, 500.0])
    u = to_unit("pt", x)
    assert u[2] == pytest.approx(0.5)
    assert np.all(np.diff(u) > 0)
    assert u.max() < 1
