"""Branch profiles: how a family of ntuples names the branches our code calls by our names.

MLAnalyzer variants disagree on names (``jet_Pt`` here, ``jetPt`` there, ``goodvertices``
for the vertex count). A profile is a small YAML or JSON file that maps *our* names (the
canonical names of :mod:`e2e_coffea.layouts`) to *theirs*; names it does not mention
are used as they are. Everything that reads files (frames, train, run, the tagger API,
the event display) reads through one profile, and code below this module only ever sees
our names.

.. code-block:: yaml

    name: my_ntuples
    layout: e2e
    tree: fevt/RHTree
    branches:          # our name: the file's name
      jet_Pt: jetPt
      nVtx: goodvertices
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

from ..exceptions import BadInputError
from ..layouts import (
    E2E_EVENT_BRANCHES,
    E2E_FATJET_BRANCHES,
    E2E_IMAGES,
    E2E_JET_BRANCHES,
    E2E_SC_BRANCHES,
    E2E_TREE,
    OBJECT_BRANCHES,
    SPARSE_COLLECTIONS,
    SPARSE_EVENT_BRANCHES,
    SPARSE_TREE,
    Layout,
    is_layout,
)
from .jsonfiles import read_json

__all__ = [
    "BranchProfile",
    "canonical_names",
    "list_profiles",
    "load_profile",
    "profile_for_layout",
]

_KEYS: Final = ("name", "layout", "tree", "description", "branches")


def canonical_names(layout: Layout) -> frozenset[str]:
    """Every branch name our code may ask a file of ``layout`` for."""
    if layout == "e2e":
        table = {v for kind in OBJECT_BRANCHES["e2e"].values() for v in kind.values()}
        return frozenset(
            {
                *E2E_IMAGES,
                *E2E_JET_BRANCHES,
                *E2E_FATJET_BRANCHES,
                *E2E_SC_BRANCHES,
                *E2E_EVENT_BRANCHES,
                *table,
            }
        )
    names = {f"n{c}" for c in SPARSE_COLLECTIONS}
    names |= {f"{c}_{f}" for c, fs in SPARSE_COLLECTIONS.items() for f in fs}
    return frozenset({*names, *SPARSE_EVENT_BRANCHES})


@dataclass(frozen=True)
class BranchProfile:
    """Our branch names -> a file family's names, for one layout and tree."""

    name: str
    layout: Layout
    tree: str
    branches: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        _check_layout(self.name, self.layout)
        valid = canonical_names(self.layout)
        unknown = sorted(k for k in self.branches if k not in valid)
        if unknown:
            msg = (
                f"profile {self.name!r}: unknown branch name(s) {unknown}; valid names for the "
                f"{self.layout} layout are: {', '.join(sorted(valid))}"
            )
            raise BadInputError(msg)
        given: Mapping[str, object] = self.branches  # from_dict passes a file's values
        bad = {k: v for k, v in given.items() if not isinstance(v, str) or not v}
        if bad:
            msg = f"profile {self.name!r}: branch names must be non-empty strings, got {bad}"
            raise BadInputError(msg)
        theirs = list(self.branches.values())
        dup = sorted({v for v in theirs if theirs.count(v) > 1})
        if dup:
            msg = f"profile {self.name!r}: file branch(es) {dup} are mapped from more than one name"
            raise BadInputError(msg)
        object.__setattr__(self, "branches", dict(self.branches))

    def file_name(self, ours: str) -> str:
        """The file's branch for our name ``ours``."""
        return self.branches.get(ours, ours)

    def rename(self, ours: list[str]) -> dict[str, str]:
        """{our name: file name} for ``ours``."""
        return {b: self.file_name(b) for b in ours}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout,
            "tree": self.tree,
            "description": self.description,
            "branches": dict(self.branches),
        }

    @classmethod
    def from_dict(cls, data: object, *, source: str = "profile") -> BranchProfile:
        """A profile from a parsed YAML/JSON document (anything: checked here)."""
        if not isinstance(data, Mapping):
            msg = f"{source}: a branch profile must be a mapping, got {type(data).__name__}"
            raise BadInputError(msg)
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            msg = f"{source}: unknown key(s) {unknown}; a profile has {list(_KEYS)}"
            raise BadInputError(msg)
        layout = data.get("layout")
        tree = data.get("tree") or (E2E_TREE if layout == "e2e" else SPARSE_TREE)
        branches = data.get("branches") or {}
        if not isinstance(branches, Mapping):
            msg = f"{source}: 'branches' must map our names to the file's, got {type(branches).__name__}"
            raise BadInputError(msg)
        name = str(data.get("name") or Path(source).stem)
        return cls(
            name=name,
            layout=_check_layout(name, layout),
            tree=str(tree),
            branches=dict(branches),
            description=str(data.get("description", "")),
        )


def _check_layout(profile: str, layout: object) -> Layout:
    if not is_layout(layout):
        msg = f"profile {profile!r}: layout {layout!r} is not 'e2e' or 'sparse'"
        raise BadInputError(msg)
    return layout


def _shipped() -> Path:
    return Path(str(resources.files("e2e_coffea") / "data" / "profiles"))


def list_profiles() -> list[str]:
    """Names of the shipped profiles (``e2e``, ``sparse``, ``mlanalyzer_tau`` ...)."""
    return sorted(p.stem for p in _shipped().glob("*.yaml"))


def load_profile(
    profile: str | os.PathLike[str] | BranchProfile | Mapping[str, Any],
) -> BranchProfile:
    """A shipped profile by name, a YAML/JSON file, a mapping, or a profile as it is."""
    if isinstance(profile, BranchProfile):
        return profile
    if isinstance(profile, Mapping):
        return BranchProfile.from_dict(profile)
    text = str(profile)
    path = Path(text)
    if not path.is_file():
        shipped = _shipped() / f"{text}.yaml"
        if path.suffix or os.sep in text or not shipped.is_file():
            msg = f"unknown branch profile {text!r}: not a file and not one of {list_profiles()}"
            raise BadInputError(msg)
        path = shipped
    from .yamlfiles import MAX_YAML_BYTES, read_yaml

    try:
        if path.suffix == ".json":  # as small as a YAML profile: the same size bound
            data = read_json(path, what="branch profile", max_bytes=MAX_YAML_BYTES)
        else:
            data = read_yaml(path, what="branch profile")
    except OSError as err:
        msg = f"branch profile {path}: cannot be read ({err.strerror or err})"
        raise BadInputError(msg) from err
    return BranchProfile.from_dict(data, source=str(path))


def profile_for_layout(layout: Layout) -> BranchProfile:
    """The identity profile of our own files of ``layout``."""
    return load_profile(layout)
