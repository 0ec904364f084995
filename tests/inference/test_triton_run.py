"""Whole runs through a real Triton server (tests/inference/conftest.py) equal local runs,
on the Iterative executor and on Dask workers with two threads each; a server that goes
away mid-run is retried, then fails the run or, with skip_bad_files, lists its chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_coffea.exceptions import RunFailedError, TritonUnavailableError
from e2e_coffea.inference import triton as triton_module
from e2e_coffea.inference.triton import TritonBackend
from e2e_coffea.runner import RunResult, run

CHUNKSIZE = 10
"""Two files of 40 events: 8 chunks; with max_batch_size 8 most chunks take 2+ requests."""


@pytest.fixture(scope="module")
def local(sample: Any, jet_tagger: Path, eg_tagger: Path) -> RunResult:
    """The reference: both taggers with local onnxruntime sessions."""
    return run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )


def _same_run(a: RunResult, b: RunResult, hists_equal: Callable[..., bool]) -> None:
    assert a.complete
    assert b.complete
    assert b.output["entries"] == a.output["entries"]
    assert b.output["cutflow"] == a.output["cutflow"]
    assert b.output["metrics"]["objects"] == a.output["metrics"]["objects"] > 0
    assert hists_equal(a.output["hists"], b.output["hists"])


def test_iterative_run_equals_local_sessions(
    triton: Any, local: RunResult, sample: Any, jet_tagger: Path, eg_tagger: Path, hists_equal: Any
) -> None:
    jet = jet_tagger.stem
    before = triton.requests(jet)
    remote = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
        triton_url=triton.grpc,
    )
    _same_run(local, remote, hists_equal)
    n_chunks = len(remote.output["chunks"])
    # the jet tagger's requests hold at most max_batch_size (8) jets, so there are more
    # requests than chunks, and at least ceil(objects / 8) of them
    jets = remote.output["hists"]["objects"][{"tagger": jet}].sum()
    least = int(max(np.ceil(jets / 8), n_chunks + 1))
    sent = triton.requests(jet, settle=before + least) - before
    assert sent > n_chunks
    assert sent >= np.ceil(jets / 8)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """One worker process with two threads: two chunks score at once in one process."""
    from distributed import Client

    from e2e_coffea.runner.cluster import local_cluster

    cluster = local_cluster(1, 0, threads_per_worker=2)
    client = Client(cluster)
    client.wait_for_workers(1, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _worker_state() -> dict[str, Any]:
    """On the worker: its onnxruntime sessions and its Triton clients."""
    from e2e_coffea.inference import triton as t
    from e2e_coffea.inference.sessions import cached_sessions

    return {
        "sessions": len(cached_sessions()),
        "clients": sum(len(p.made) for p in t._POOLS.values()),
        "models": sorted(m for _, m in t._INFO),
    }


def test_dask_two_threads_per_worker_equals_local(
    triton: Any,
    local: RunResult,
    sample: Any,
    jet_tagger: Path,
    eg_tagger: Path,
    dask_client: Any,
    hists_equal: Any,
) -> None:
    remote = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="dask",
        client=dask_client,
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
        triton_url=triton.grpc,
    )
    _same_run(local, remote, hists_equal)
    (state,) = dask_client.run(_worker_state).values()
    assert state["sessions"] == 0  # the server holds the models: no local session
    assert 1 <= state["clients"] <= 2  # one per worker thread that scored
    assert state["models"] == sorted([jet_tagger.stem, eg_tagger.stem])


@pytest.fixture
def dying(serve: Any, tmp_path: Path, jet_tagger: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A server of this test's own that stops for good when the run's second batch of
    frames is about to be sent; retries 10 ms apart, so the test stays quick."""
    server = serve([str(jet_tagger)], tmp_path / "server.log")
    monkeypatch.setattr(triton_module, "DEFAULT_BACKOFF_S", 0.01)
    real = TritonBackend.infer
    calls = []

    def infer(self: TritonBackend, inputs: Any) -> Any:
        calls.append(len(next(iter(inputs.values()))))
        if len(calls) == 2:
            server.stop()
        return real(self, inputs)

    monkeypatch.setattr(TritonBackend, "infer", infer)
    return server


def test_server_gone_mid_run_fails_the_run_naming_it(
    dying: Any, sample: Any, jet_tagger: Path
) -> None:
    with pytest.raises((TritonUnavailableError, RunFailedError)) as err:
        run(
            sample.fileset["sparse"],
            [jet_tagger],
            chunksize=CHUNKSIZE,
            progress=False,
            triton_url=dying.grpc,
        )
    text = str(err.value)
    assert dying.grpc in text
    assert f"model {jet_tagger.stem!r}" in text
    assert "after 4 attempts" in text  # retries=3


def test_server_gone_mid_run_with_skip_bad_files_lists_every_lost_chunk(
    dying: Any, sample: Any, jet_tagger: Path
) -> None:
    result = run(
        sample.fileset["sparse"],
        [jet_tagger],
        chunksize=CHUNKSIZE,
        progress=False,
        triton_url=dying.grpc,
        skip_bad_files=True,
    )
    assert not result.complete
    assert result.processed >= CHUNKSIZE - 1  # the first chunk was scored before it went
    assert result.failed
    for f in result.failed:
        assert dying.grpc in f.reason
        assert "after 4 attempts" in f.reason
    lost = sum(f.entry_stop - f.entry_start for f in result.failed)  # type: ignore[operator]
    assert result.processed + lost == sum(result.expected.values())  # nothing silently lost
