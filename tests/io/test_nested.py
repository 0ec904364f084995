"""Flat branch names over a chunk whose schema nested them (NanoAODSchema's rule)."""

from __future__ import annotations

import awkward as ak
import numpy as np

from e2e_coffea.io.columns import plan_columns, read_columns
from e2e_coffea.io.nested import flat_branches


def _nested() -> ak.Array:
    """Two events as NanoAODSchema shapes them: jagged and flat collections, singletons."""
    jets = ak.zip({"pt": [[30.0, 40.0], []], "seedIeta": [[3, 4], []]})
    met = ak.zip({"pt": [5.0, 6.0]})
    return ak.zip(
        {"Jet": jets, "MET": met, "nVtx": [1, 2], "jetSeed_ieta": [[1], [2]]}, depth_limit=1
    )


def test_collections_read_by_their_flat_names() -> None:
    view = flat_branches(_nested())
    assert set(view) == {"Jet", "MET", "nVtx", "jetSeed_ieta", "Jet_pt", "Jet_seedIeta", "MET_pt"}
    assert view.path("Jet_seedIeta") == ("Jet", "seedIeta")
    assert view.path("jetSeed_ieta") == ("jetSeed_ieta",)  # a flat name stays flat
    plan = plan_columns(list(view), ["Jet_seedIeta", "nVtx"], ["MET_pt", "Jet_eta"])
    assert plan.missing == ("Jet_eta",)
    chunk = read_columns(_nested(), plan)
    assert chunk.fields == ["Jet_seedIeta", "nVtx", "MET_pt"]
    assert chunk["Jet_seedIeta"].tolist() == [[3, 4], []]
    np.testing.assert_array_equal(chunk["MET_pt"], [5.0, 6.0])


def test_flat_names_win_over_a_collection_of_the_same_name() -> None:
    events = ak.zip({"Jet": ak.zip({"pt": [[1.0]]}), "Jet_pt": [[2.0]]}, depth_limit=1)
    assert flat_branches(events)["Jet_pt"].tolist() == [[2.0]]
    mapping = {"Jet": ak.zip({"pt": [[1.0]]}), "run": np.array([7])}
    assert flat_branches(mapping)["Jet_pt"].tolist() == [[1.0]]
