"""FatJet frames: the jet window on the seed tower of the R = 0.8 jet's axis, built by the
one jet-frame builder (so a FatJet's frame is exactly a jet's frame at the same seed)."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import build_fatjet_frames, build_jet_frames, required_branches
from e2e_coffea.frames.objects import check_kind, object_values
from e2e_coffea.layouts import E2E_TREE, OBJECT_BRANCHES, SPARSE_TREE

TREES = {"sparse": SPARSE_TREE, "e2e": E2E_TREE}


def _chunk(top_sample: Any, layout: str) -> ak.Array:
    path = top_sample.files[("top", layout)]
    with uproot.open(path) as f:
        return f[TREES[layout]].arrays()


@pytest.mark.parametrize("layout", ["sparse", "e2e"])
def test_fatjet_frames_equal_the_jet_builder_at_the_same_seed(top_sample: Any, layout: str) -> None:
    chunk = _chunk(top_sample, layout)
    fat, jet = OBJECT_BRANCHES[layout]["fatjet"], OBJECT_BRANCHES[layout]["jet"]
    frames, rec = build_fatjet_frames(chunk, layout=layout, channels="top8")
    assert rec.kind == "fatjet"
    assert len(rec) == int(ak.sum(ak.num(chunk[fat["seed_row"]]))) > 0
    # the same chunk with R = 0.4 "jets" sitting exactly on the FatJet seeds
    cols = {b: chunk[b] for b in required_branches("top8", layout)}  # type: ignore[arg-type]
    cols[jet["seed_row"]] = chunk[fat["seed_row"]]
    cols[jet["seed_col"]] = chunk[fat["seed_col"]]
    as_jets, jrec = build_jet_frames(ak.Array(cols), layout=layout, channels="top8")
    np.testing.assert_array_equal(frames, as_jets)
    np.testing.assert_array_equal(rec.seed_row, jrec.seed_row)
    assert np.abs(frames).sum() > 0
    # and they are not the R = 0.4 jets' frames (the kind really selects the collection)
    own, _ = build_jet_frames(chunk, layout=layout, channels="top8")
    assert own.shape != frames.shape or not np.array_equal(own, frames)


def test_fatjet_records_carry_their_kinematics_and_truth(top_sample: Any) -> None:
    chunk = _chunk(top_sample, "sparse")
    _, rec = build_fatjet_frames(chunk, layout="sparse", channels=["ecal"])
    np.testing.assert_allclose(rec.pt, ak.flatten(chunk["FatJet_pt"]).to_numpy(), rtol=1e-6)
    assert set(np.unique(rec.label)) <= {-1, 5, 6}  # unmatched, top, other
    gen = object_values(chunk, "sparse", "fatjet", "gen_mass", rec.event, rec.index)
    assert gen is not None
    np.testing.assert_array_equal(gen, ak.flatten(chunk["FatJet_genMass"]).to_numpy())
    sd = object_values(chunk, "sparse", "fatjet", "msoftdrop", rec.event, rec.index)
    assert sd is not None
    assert np.all(sd <= rec.mass + 1e-3)


def test_an_unknown_kind_names_the_valid_ones() -> None:
    with pytest.raises(BadInputError, match="fatjet"):
        check_kind("largejet")
