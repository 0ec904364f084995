from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.exceptions import FileLayoutError
from e2e_coffea.io import dense_image, flatten_collections, layout_of_file, read_arrays, write_e2e
from e2e_coffea.io.e2e import E2E_FROM_SPARSE
from e2e_coffea.layouts import (
    E2E_EVENT_BRANCHES,
    E2E_FATJET_BRANCHES,
    E2E_IMAGES,
    E2E_JET_BRANCHES,
    E2E_SC_BRANCHES,
    E2E_TREE,
)


def test_mlanalyzer_branch_names_and_shapes(tmp_path, chunk):
    path = tmp_path / "e.root"
    assert write_e2e(path, chunk, batch=3) == 7  # several batches, one tree
    tree = uproot.open(path)[E2E_TREE]
    keys = set(tree.keys())
    for name in (
        *E2E_IMAGES,
        *E2E_JET_BRANCHES,
        *E2E_FATJET_BRANCHES,
        *E2E_SC_BRANCHES,
        *E2E_EVENT_BRANCHES,
    ):
        assert name in keys, name
    arrays = tree.arrays(list(E2E_IMAGES))
    for name, spec in E2E_IMAGES.items():
        img = dense_image(arrays, name)
        assert img.shape == (7, *spec.shape)
        assert img.dtype == np.float32
    assert layout_of_file(path) == "e2e"


def test_per_object_vectors_copy_the_sparse_values(tmp_path, chunk):
    path = tmp_path / "e.root"
    write_e2e(path, chunk)
    e2e = read_arrays(path, list(E2E_FROM_SPARSE))
    flat = flatten_collections(chunk)
    for dst, src in E2E_FROM_SPARSE.items():
        a, b = e2e[dst], flat[src]
        assert ak.all(ak.values_astype(a, np.float64) == ak.values_astype(b, np.float64)), dst


def test_ecal_image_is_the_scattered_hits_row_major(tmp_path, chunk):
    """Hit (row, col) lands at flat index row*360 + col: eta rows, phi columns."""
    path = tmp_path / "e.root"
    write_e2e(path, chunk)
    img = dense_image(read_arrays(path, ["ECAL_energy"]), "ECAL_energy")
    hits = chunk["EcalHit"]
    for ev in range(len(hits)):
        ref = np.zeros((280, 360), np.float32)
        for r, c, e in zip(hits[ev].row, hits[ev].col, hits[ev].energy, strict=True):
            ref[int(r), int(c)] += e
        np.testing.assert_array_equal(img[ev], ref)


def test_fixed_size_and_vector_images_read_alike():
    n, (h, w) = 2, E2E_IMAGES["HBHE_energy"].shape
    flat = np.arange(n * h * w, dtype=np.float32).reshape(n, h * w)
    regular = ak.Array({"HBHE_energy": flat})  # like a fixed-size float[4032] leaf
    jagged = ak.Array(
        {"HBHE_energy": ak.unflatten(flat.ravel(), [h * w] * n)}
    )  # std::vector<float>
    np.testing.assert_array_equal(
        dense_image(regular, "HBHE_energy"), dense_image(jagged, "HBHE_energy")
    )
    assert dense_image(regular, "HBHE_energy")[1, 0, 1] == h * w + 1


def test_wrong_image_size_is_refused():
    bad = ak.Array({"HBHE_energy": ak.unflatten(np.zeros(10, np.float32), [10])})
    with pytest.raises(FileLayoutError, match="expected 4032"):
        dense_image(bad, "HBHE_energy")
    with pytest.raises(FileLayoutError, match="unknown e2e image"):
        dense_image(bad, "HCAL_nope")


def _with_hit_row(chunk, row):
    """The chunk with the first ECAL hit of the first event that has one moved to ``row``."""
    hits = chunk["EcalHit"]
    counts = ak.num(hits, axis=1)
    rows = ak.to_numpy(ak.flatten(hits.row)).copy()
    rows[0] = row
    moved = ak.with_field(hits, ak.unflatten(rows, counts), "row")
    return {**chunk, "EcalHit": moved}


@pytest.mark.parametrize("row", [-1, 280])
def test_hit_outside_the_grid_is_named_by_densify_and_frames(chunk, row):
    from e2e_coffea.exceptions import BadInputError
    from e2e_coffea.frames import build_jet_frames
    from e2e_coffea.io.densify import densify

    flat = flatten_collections(_with_hit_row(chunk, row))
    first = int(np.flatnonzero(ak.to_numpy(ak.num(chunk["EcalHit"], axis=1)))[0])
    expected = (
        f"EcalHit hit 0 of entry {first} sits at \\(row={row}, col=.*outside the 280x360 grid"
    )
    with pytest.raises(BadInputError, match=expected):
        densify(flat)
    with pytest.raises(BadInputError, match=expected):
        build_jet_frames(flat, layout="sparse", channels=["ecal"])


def test_row_and_column_counts_must_agree(chunk):
    from e2e_coffea.io.densify import densify

    flat = flatten_collections(chunk)
    flat = ak.with_field(flat, flat["EcalHit_col"][:, :-1], "EcalHit_col")
    with pytest.raises(FileLayoutError, match=r"EcalHit_row.*EcalHit_col.*disagree"):
        densify(flat)


@pytest.mark.parametrize(
    ("branch", "what"), [("EcalHit_col", "hit positions"), ("TrackerHit_layer", "tracker layers")]
)
def test_non_integer_positions_and_layers_are_refused(chunk, branch, what):
    from e2e_coffea.frames import build_jet_frames

    flat = flatten_collections(chunk)
    flat = ak.with_field(flat, ak.values_astype(flat[branch], np.float32), branch)
    with pytest.raises(
        FileLayoutError, match=f"'{branch}' holds float32 values; {what} must be integers"
    ):
        build_jet_frames(flat, layout="sparse", channels="tau13")
