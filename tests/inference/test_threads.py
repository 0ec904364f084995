"""The thread budget: onnxruntime's intra-op threads, the frame-building thread and
Dask's task threads add up to the worker's cores, and the split reaches the sessions."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.inference import sessions
from e2e_coffea.inference.threads import CORES_ENV, split_threads, thread_budget, worker_cores


@pytest.mark.parametrize("cores", range(1, 17))
def test_the_parts_never_add_up_to_more_than_the_cores(cores: int) -> None:
    for tasks in range(1, cores + 1):
        b = split_threads(cores, tasks)
        assert b.intra_op >= 1
        assert b.prefetch in (0, 1)
        assert b.total <= cores, (cores, tasks, b)
    # a worker running one chunk: all its cores busy
    assert split_threads(cores, 1).total == cores


@pytest.mark.parametrize(
    ("cores", "tasks", "intra", "prefetch"),
    [
        (1, 1, 1, 0),
        (2, 1, 2, 0),
        (3, 1, 2, 1),
        (2, 2, 1, 0),
        (8, 1, 7, 1),
        (8, 2, 3, 1),
        (4, 4, 1, 0),
    ],
)
def test_split(cores: int, tasks: int, intra: int, prefetch: int) -> None:
    b = split_threads(cores, tasks)
    assert (b.intra_op, b.prefetch) == (intra, prefetch)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(BadInputError, match="cores must be"):
        split_threads(0)


def _fake_cores(monkeypatch: pytest.MonkeyPatch, n: int, nthreads: int | None = None) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(n)), raising=False)
    import distributed

    if nthreads is None:

        def no_worker() -> Any:
            msg = "no worker found"
            raise ValueError(msg)

        monkeypatch.setattr(distributed, "get_worker", no_worker)
    else:
        worker = SimpleNamespace(state=SimpleNamespace(nthreads=nthreads))
        monkeypatch.setattr(distributed, "get_worker", lambda: worker)


def test_a_dask_worker_owns_its_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cores(monkeypatch, 16, nthreads=4)
    assert worker_cores() == (4, 4)
    assert thread_budget().intra_op == 1
    monkeypatch.setenv(CORES_ENV, "8")  # a slot of 8 cores for 4 Dask threads
    assert thread_budget() == split_threads(8, 4)
    monkeypatch.setenv(CORES_ENV, "eight")
    with pytest.raises(BadInputError, match=CORES_ENV):
        worker_cores()


def test_the_split_reaches_the_session(monkeypatch: pytest.MonkeyPatch, jet_tagger: Path) -> None:
    """A process on 6 cores: 5 intra-op threads (one core builds frames); inside a Dask
    worker of 2 threads on those 6 cores: 1 each, read back from the built sessions."""
    monkeypatch.delenv(CORES_ENV, raising=False)
    sessions.clear_cache()
    try:
        _fake_cores(monkeypatch, 6)
        sess = sessions.get_session(jet_tagger, "cpu")
        assert sess.get_session_options().intra_op_num_threads == 5
        sessions.clear_cache()
        _fake_cores(monkeypatch, 6, nthreads=2)
        sess = sessions.get_session(jet_tagger, "cpu")
        assert sess.get_session_options().intra_op_num_threads == 1
        sessions.clear_cache()
        plugin = sessions.SessionCachePlugin([str(jet_tagger)], device="cpu")
        plugin.setup(SimpleNamespace(state=SimpleNamespace(nthreads=3)))
        (key,) = sessions.cached_sessions()
        assert key.threads == 1  # the key the chunks ask for: 3 cores, 3 tasks
    finally:
        sessions.clear_cache()


def test_the_tagger_builds_frames_ahead_only_with_a_core_for_it(
    monkeypatch: pytest.MonkeyPatch, jet_tagger: Path, sample: Any
) -> None:
    from e2e_coffea.inference import tagger as tagger_module

    seen: list[bool] = []
    real = tagger_module.prefetched

    def spy(fn: Any, items: Any, *, ahead: bool = True) -> Any:
        seen.append(ahead)
        return real(fn, items, ahead=ahead)

    monkeypatch.setattr(tagger_module, "prefetched", spy)
    import uproot

    path = sample.files[("tau", "sparse")]
    with uproot.open(path) as f:
        arrays = f["Events"].arrays(entry_stop=20)
    for cores, ahead in ((2, False), (3, True)):
        _fake_cores(monkeypatch, cores)
        tagger_module.Tagger(jet_tagger, device="cpu")(arrays)
        assert seen[-1] is ahead
    sessions.clear_cache()
