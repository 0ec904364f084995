"""Files that ROOT itself wrote (``std::vector<float>`` branches, as MLAnalyzer writes them).

ROOT is not a dependency: CI installs the ``root`` wheel for this test; elsewhere it skips.
The writer runs in a subprocess so PyROOT's import-time side effects stay out of pytest.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.io import flatten_collections, read_arrays
from e2e_coffea.io.densify import densify
from e2e_coffea.io.root_vectors import have_root, write_root_vectors
from e2e_coffea.layouts import E2E_IMAGES

pytestmark = pytest.mark.root


def test_root_written_vectors_give_the_same_frames(tmp_path, chunk):
    assert have_root(), "ROOT is part of the test extra: pip install '.[test]' (the root wheel)"
    flat = flatten_collections(chunk)
    images = densify(flat)
    branches = {k: images[k] for k in ("ECAL_energy", "HBHE_energy", "ECAL_tracksPt_atECALfixIP")}
    branches["jetSeed_ieta"] = flat["Jet_seedIeta"]
    branches["jetSeed_iphi"] = flat["Jet_seedIphi"]
    out = tmp_path / "root_written.root"
    assert write_root_vectors(out, branches) == len(flat)

    import uproot

    tree = uproot.open(out)["fevt/RHTree"]
    assert tree["ECAL_energy"].typename == "std::vector<float>"
    assert tree["jetSeed_ieta"].typename == "std::vector<int32_t>"
    got = read_arrays(
        out,
        ["ECAL_energy", "HBHE_energy", "ECAL_tracksPt_atECALfixIP", "jetSeed_ieta", "jetSeed_iphi"],
        layout="e2e",
    )
    assert len(got) == len(flat)
    from e2e_coffea.io import dense_image

    np.testing.assert_array_equal(
        dense_image(got, "ECAL_energy").reshape(len(flat), -1), images["ECAL_energy"]
    )
    assert E2E_IMAGES["ECAL_energy"].shape == (280, 360)
    ref, _ = build_jet_frames(flat, layout="sparse", channels="qg")
    frames, _ = build_jet_frames(got, layout="e2e", channels="qg")
    np.testing.assert_array_equal(frames, ref)


@pytest.mark.parametrize(
    ("branches", "match"),
    [
        ({}, "no branches"),
        ({"x": np.zeros(3)}, "needs .events, n. or var"),
        (
            {"x": ak.Array([[1.0], [2.0]]), "y": ak.Array([[1.0]])},
            "'y' has 1 entries, the first branch has 2",
        ),
        ({"x": ak.Array([["a"], ["b"]])}, "cannot go into std::vector"),
    ],
)
def test_root_vector_writer_rejects_what_it_cannot_write(tmp_path, branches, match):
    from e2e_coffea.exceptions import BadInputError

    with pytest.raises(BadInputError, match=match):
        write_root_vectors(tmp_path / "x.root", branches)
