from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.exceptions import FileLayoutError, MissingBranchError
from e2e_coffea.io import layout_of_file, open_tree, read_arrays, sparse_branches, write_sparse
from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_TREE


def test_branches_and_counters_follow_the_schema(tmp_path, chunk):
    path = tmp_path / "s.root"
    assert write_sparse(path, chunk) == 7
    tree = uproot.open(path)[SPARSE_TREE]
    assert set(tree.keys()) == set(sparse_branches())
    arrays = tree.arrays()
    for coll, fields in SPARSE_COLLECTIONS.items():
        assert ak.all(arrays[f"n{coll}"] == ak.num(chunk[coll], axis=1))
        for f in fields:
            assert ak.all(arrays[f"{coll}_{f}"] == chunk[coll][f])
    assert arrays["EcalHit_row"].type.content.content.primitive == "int16"


def test_readable_with_nanoevents_base_schema(tmp_path, chunk):
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    path = tmp_path / "s.root"
    write_sparse(path, chunk)
    events = NanoEventsFactory.from_root(
        {str(path): SPARSE_TREE}, schemaclass=BaseSchema, mode="eager"
    ).events()
    assert len(events) == 7
    assert ak.all(events["EcalHit_energy"] == chunk["EcalHit"]["energy"])


def test_open_tree_closes_its_file_when_the_block_ends(tmp_path, chunk):
    path = tmp_path / "s.root"
    write_sparse(path, chunk)
    with open_tree(path) as tree:
        assert tree.num_entries == 7
        assert not tree.file.closed
    assert tree.file.closed
    with pytest.raises(RuntimeError, match="in the block"), open_tree(path, "sparse") as tree:
        raise RuntimeError("in the block")
    assert tree.file.closed


def test_several_chunks_append(tmp_path, chunk):
    path = tmp_path / "s.root"
    assert write_sparse(path, [chunk, chunk]) == 14
    assert layout_of_file(path) == "sparse"
    ev = read_arrays(path, ["event"])
    assert np.array_equal(np.asarray(ev["event"]), np.tile(np.arange(1, 8), 2))


def test_missing_branch_is_named(tmp_path, chunk):
    path = tmp_path / "s.root"
    write_sparse(path, chunk)
    with pytest.raises(MissingBranchError, match="EcalHit_nope"):
        read_arrays(path, ["EcalHit_row", "EcalHit_nope"])


def test_chunk_with_wrong_fields_is_refused(tmp_path, chunk):
    bad = dict(chunk)
    bad["Track"] = ak.zip({"pt": chunk["Track"]["pt"]})
    with pytest.raises(FileLayoutError, match="Track"):
        write_sparse(tmp_path / "s.root", bad)


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated"])
def test_bad_files_give_clear_errors(tmp_path, chunk, damage):
    path = tmp_path / "s.root"
    if damage == "garbage":
        path.write_bytes(b"this is not a ROOT file" * 100)
    elif damage == "truncated":
        write_sparse(path, chunk)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileLayoutError, match=str(path.name)):
        read_arrays(path)
