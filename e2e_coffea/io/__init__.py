"""ROOT files <-> awkward chunks, for both layouts. I/O only: no physics here."""

from __future__ import annotations

from .e2e import dense_image, write_e2e
from .files import check_branches, layout_of_file, open_tree, read_arrays, tree_name
from .fileset import Fileset, load_fileset, save_fileset
from .sparse import flatten_collections, sparse_branches, write_sparse

__all__ = [
    "Fileset",
    "check_branches",
    "dense_image",
    "flatten_collections",
    "layout_of_file",
    "load_fileset",
    "open_tree",
    "read_arrays",
    "save_fileset",
    "sparse_branches",
    "tree_name",
    "write_e2e",
    "write_sparse",
]
