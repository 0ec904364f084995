"""Flat branch names over chunks whose schema nested them into collections.

Our branch table (:data:`~e2e_coffea.layouts.OBJECT_BRANCHES`, the profiles) names the
branches as they are stored: ``Jet_seedIeta``, ``MET_pt``, ``nVtx``. coffea's
``NanoAODSchema`` (the ``Runner``'s default) splits a branch at its first underscore
into a collection and a field (``events.Jet.seedIeta``) and turns the counters
(``nJet``) into the collections' lengths; ``BaseSchema`` and uproot keep the flat names.
Rather than a second table of nested names, the nested name of a flat one is derived by
NanoAOD's own rule, from the chunk's form: no column is read to find it, so this holds
for eager, virtual and typetracer (dask) chunks alike.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Mapping
from typing import Any

import awkward as ak

from ..exceptions import BadTypeError

__all__ = ["FlatBranches", "flat_branches"]


def _record_fields(form: Any) -> list[str]:
    """The fields of a collection's records (through lists and options), or none."""
    while not isinstance(form, ak.forms.RecordForm):
        content = getattr(form, "content", None)
        if content is None or isinstance(form, ak.forms.NumpyForm):
            return []
        form = content
    return list(form.fields)


class FlatBranches(Mapping[str, Any]):
    """A chunk (NanoEvents of any schema and mode, an awkward record array, a mapping of
    branches) seen by its flat branch names. Flat names the chunk holds itself come first;
    a collection's fields add ``<collection>_<field>``."""

    def __init__(self, events: Any) -> None:
        self.events = events
        if isinstance(events, ak.Array):
            form = events.layout.form
            fields = list(form.fields) if isinstance(form, ak.forms.RecordForm) else []
            sub = {f: _record_fields(form.content(f)) for f in fields}
        elif callable(getattr(events, "keys", None)):
            fields = list(events.keys())
            sub = {f: list(ak.fields(v)) if isinstance(v, ak.Array) else [] for f, v in events.items()}  # fmt: skip
        else:
            msg = (
                "events must be a NanoEvents chunk, an awkward record array or a mapping of "
                f"branches, got {type(events).__name__} {reprlib.repr(events)}"
            )
            raise BadTypeError(msg)
        self._where: dict[str, tuple[str, ...]] = {f: (f,) for f in fields}
        for coll in fields:
            for field in sub[coll]:
                self._where.setdefault(f"{coll}_{field}", (coll, field))

    @property
    def nested(self) -> bool:
        """Whether any branch lives inside a collection (``NanoAODSchema``-style)."""
        return any(len(path) > 1 for path in self._where.values())

    def path(self, branch: str) -> tuple[str, ...]:
        """Where ``branch`` lives in the chunk: ``("Jet", "seedIeta")`` or ``("Jet_pt",)``."""
        return self._where[branch]

    def __getitem__(self, branch: str) -> Any:
        value = self.events
        for part in self._where[branch]:
            value = value[part]
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def flat_branches(events: Any) -> FlatBranches:
    """``events`` by flat branch names (itself when it is already a :class:`FlatBranches`)."""
    return events if isinstance(events, FlatBranches) else FlatBranches(events)
