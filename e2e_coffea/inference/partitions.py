"""A :class:`~e2e_coffea.inference.Tagger` on dask-awkward collections.

coffea's ``NanoEventsFactory.from_root(..., mode="dask")`` and
``coffea.dataset_tools.apply_to_fileset`` hand a processor lazy dask-awkward events.
``tagger(events)`` then maps the eager tagger over the partitions
(``dask_awkward.map_partitions``): each partition is an ordinary chunk on a worker, and
the tagger travels without a session, so each worker builds its session once (the
per-process cache of :mod:`.sessions`). On dask-awkward's typetracer pass the tagger only
touches the branches it reads, so column projection reads those and nothing else.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from ..exceptions import E2EError
from ..io.nested import flat_branches
from .outputs import jagged_outputs, output_width

if TYPE_CHECKING:
    from .tagger import Tagger

__all__ = ["PartitionTagger", "is_dask_collection", "map_partitions", "touch"]

INSTALL_HINT = (
    "pip install 'coffea[dask-awkward]' (dask-awkward 2026.2 needs dask < 2025.4 and "
    "distributed < 2025.4)"
)


def is_dask_collection(events: Any) -> bool:
    """Whether ``events`` is a dask-awkward collection (checked without importing it)."""
    return type(events).__module__.split(".", 1)[0] == "dask_awkward"


_MERGE = threading.Lock()


class PartitionTagger:
    """What each partition runs: the tagger on an eager chunk, its :func:`touch`
    on a typetracer one (:func:`touch`). Pickles as the tagger does, without a session.

    dask's local schedulers run partitions in threads of this process, on this very
    object: each partition scores with a copy of the tagger (the session is the
    process's cached one) and adds its counts to ``tagger.stats`` under a lock."""

    def __init__(self, tagger: Tagger) -> None:
        self.tagger = tagger

    def __call__(self, events: Any) -> Any:
        if ak.backend(events) == "typetracer":
            return touch(self.tagger, events)
        mine = copy.copy(self.tagger)
        mine.stats = Counter()
        out = mine(events)
        with _MERGE:
            self.tagger.stats.update(mine.stats)
        return out


def touch(tagger: Tagger, events: Any) -> ak.Array:
    """What a typetracer chunk (dask-awkward's column projection) needs to learn: the
    branches the tagger reads are touched, and the type of its output comes back."""
    source = flat_branches(events)
    layout = tagger.layout_of(source, getattr(events, "metadata", None))
    for name in tagger.plan(list(source), layout).file_names:
        ak.typetracer.touch_data(source[name])
    width = output_width(tagger.contract)
    values = np.zeros((0, width) if width > 1 else 0, np.float32)
    empty = jagged_outputs(values, np.zeros(0, bool), np.zeros(0, np.int64), tagger.contract)
    return ak.Array(empty.layout.to_typetracer(forget_length=True))


def map_partitions(tagger: Tagger, events: Any) -> Any:
    """``tagger`` over every partition of the dask-awkward ``events``: a lazy
    dask-awkward array with the jagged structure of the tagger's objects. ``tagger.stats``
    counts the partitions scored in this process (dask's local schedulers); on a
    distributed cluster the counts stay on the workers: count ``None`` in the result."""
    try:
        import dask_awkward as dak
    except ImportError as err:  # pragma: no cover - dask mode needs dask-awkward installed
        msg = f"scoring dask-awkward events needs dask-awkward: {INSTALL_HINT} ({err})"
        raise E2EError(msg) from err
    fn = PartitionTagger(tagger)
    meta = fn(events._meta)
    return dak.map_partitions(fn, events, label=f"e2e-tagger-{tagger.name}", meta=meta)
