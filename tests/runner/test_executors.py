"""The same fileset through every executor gives the same merged histograms and every
entry exactly once; GPU-tagged workers take the chunk tasks; a killed worker loses nothing.

Order matters for speed only: the futures test forks before any Dask cluster exists.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
import uproot

from e2e_coffea.inference.sessions import cached_sessions
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run

CHUNKSIZE = 15
N_CHUNKS = 6  # two files of 40 entries, chunksize 15 -> 3 chunks each


def _entries(sample: Any) -> dict[str, int]:
    out = {}
    for ds in ("qcd", "tau"):
        p = sample.files[(ds, "sparse")]
        with uproot.open(p) as f:
            out[str(p)] = int(f["Events"].num_entries)
    return out


def _check_complete(result: Any, sample: Any) -> None:
    expected = _entries(sample)
    assert result.expected == expected
    assert result.processed == sum(expected.values()) == 80
    assert result.failed == []
    assert result.complete
    chunks = result.output["chunks"]
    assert len(chunks) == N_CHUNKS
    for path, n in expected.items():
        spans = sorted(
            tuple(map(int, c.rpartition(":")[2].split("-")))
            for c in chunks
            if c.startswith(path + ":")
        )
        assert spans[0][0] == 0
        assert spans[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no gap, no overlap
        assert sum(chunks[f"{path}:{a}-{b}"] for a, b in spans) == n


def test_iterative_reference_is_complete(clean: Any, sample: Any) -> None:
    _check_complete(clean, sample)
    assert clean.output["metrics"]["chunks"] == N_CHUNKS
    assert clean.output["hists"]["objects"].sum() == clean.output["metrics"]["objects"] > 0


@pytest.mark.parametrize("progress", [False, True])
def test_iterative_progress_bars_follow_the_option(
    sample: Any, jet_tagger: Path, capfd: Any, progress: bool
) -> None:
    run(
        sample.fileset["sparse"], [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=progress
    )
    shown = "".join(capfd.readouterr())
    assert ("Processing" in shown) is progress
    if not progress:
        assert "Preprocessing" not in shown  # (with bars, coffea may have cached the metadata)


def test_futures_matches_iterative(
    clean: Any, sample: Any, jet_tagger: Path, eg_tagger: Path, hists_equal: Any
) -> None:
    result = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="futures",
        workers=2,
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )
    _check_complete(result, sample)
    assert hists_equal(result.output["hists"], clean.output["hists"])
    assert result.output["cutflow"] == clean.output["cutflow"]
    assert set(result.output["chunks"]) == set(clean.output["chunks"])


def test_dask_matches_iterative(
    clean: Any, sample: Any, jet_tagger: Path, eg_tagger: Path, dask_client: Any, hists_equal: Any
) -> None:
    result = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="dask",
        client=dask_client,
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )
    _check_complete(result, sample)
    assert hists_equal(result.output["hists"], clean.output["hists"])
    assert result.output["cutflow"] == clean.output["cutflow"]
    assert set(result.output["metrics"]["worker"]) <= {"cpu-0", "cpu-1"}
    assert sum(result.output["metrics"]["worker"].values()) == 80
    # the WorkerPlugin warmed one CPU session per model on every worker, chunks or not
    warmed = dask_client.run(lambda: sorted((k.path, k.device) for k in cached_sessions()))
    want = sorted((str(p.resolve()), "cpu") for p in (jet_tagger, eg_tagger))
    assert list(warmed.values()) == [want, want]
    plugins = dask_client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all("e2e-coffea-sessions" in names for names in plugins.values())


def test_gpu_tagged_worker_takes_every_chunk(
    clean: Any, sample: Any, jet_tagger: Path, eg_tagger: Path, hists_equal: Any
) -> None:
    # its own SpecCluster: one CPU worker next to one worker tagged GPU=1 (on a machine
    # without CUDA it runs on the CPU; device="cpu" keeps onnxruntime there)
    result = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="dask",
        workers=1,
        gpu_workers=1,
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )
    _check_complete(result, sample)
    assert result.output["metrics"]["worker"] == {"gpu-0": 80}
    assert hists_equal(result.output["hists"], clean.output["hists"])


def test_killed_worker_loses_nothing(
    clean: Any,
    sample: Any,
    jet_tagger: Path,
    eg_tagger: Path,
    dask_client: Any,
    hists_equal: Any,
    tmp_path: Path,
) -> None:
    marker = str(tmp_path / "killed")
    victim = str(sample.files[("tau", "sparse")])

    class DiesOnce(E2ETaggerProcessor):
        """The first attempt at the victim's first chunk kills its worker process."""

        def process(self, events: Any) -> dict[str, Any]:
            meta = events.metadata
            if (
                meta["filename"] == victim
                and meta["entrystart"] == 0
                and not os.path.exists(marker)
            ):
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
                os._exit(1)
            return super().process(events)

    pids_before = set(dask_client.run(os.getpid).values())
    result = run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="dask",
        client=dask_client,
        chunksize=CHUNKSIZE,
        device="cpu",
        retries=1,
        progress=False,
        processor=DiesOnce,
    )
    dead = int(Path(marker).read_text())
    assert dead in pids_before  # a worker process really died mid-run ...
    dask_client.wait_for_workers(2, timeout=60)
    assert dead not in set(dask_client.run(os.getpid).values())  # ... and the Nanny replaced it
    _check_complete(result, sample)
    assert hists_equal(result.output["hists"], clean.output["hists"])
    assert result.output["cutflow"] == clean.output["cutflow"]
