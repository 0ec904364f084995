"""The CPU batch size by measurement: the fastest candidate wins under a cost model, the
answer is cached per model, machine and threads, a fixed size skips it, and a corrupt
cache is ignored with a warning."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.inference import calibration, runtimes
from e2e_coffea.inference.calibration import (
    BatchSizeCache,
    CalibrationCacheWarning,
    batch_report,
    calibrate,
)
from e2e_coffea.inference.tagger import Tagger


class FakeClock:
    """Time that moves only when the fake session runs: per call, a fixed overhead plus a
    per-object cost that grows past 64 objects (caches overflow), so 64 is fastest."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: Counter[int] = Counter()

    def __call__(self) -> float:
        return self.now

    def run(self, n: int) -> None:
        self.calls[n] += 1
        self.now += 1.0 + n * (1.0 if n <= 64 else 1.5)


def test_the_fastest_candidate_is_chosen() -> None:
    clock = FakeClock()

    def infer(x: dict[str, Any], size: int) -> Any:
        n = len(x["x"])
        for a in range(0, n, size):
            clock.run(min(size, n - a))
        return x["x"][:, :1] * 2

    x = np.arange(1000, dtype=np.float32).reshape(500, 2)
    out, choice = calibrate(infer, {"x": x}, timer=clock)
    assert choice.size == 64
    assert choice.how == "calibrated"
    assert sorted(choice.seconds_per_object) == [16, 32, 64, 128, 256]  # 512 > 500 objects
    np.testing.assert_array_equal(out, x[:, :1] * 2)  # every object scored, in order


class StallOnce(FakeClock):
    """The fake clock, but the first run of 64 objects (the truly fastest size's first
    timing) stalls as if the machine were busy: one timing per size then picks 32."""

    def run(self, n: int) -> None:
        super().run(n)
        if n == 64 and self.calls[64] == 2:  # the first is the warm-up batch of 16: 64 is timed
            self.now += 10_000.0


def test_each_size_is_timed_twice_and_its_best_time_counts() -> None:
    clock = StallOnce()
    sizes = (16, 32, 64, 128)

    def infer(x: dict[str, Any], size: int) -> Any:
        n = len(x["x"])
        for a in range(0, n, size):
            clock.run(min(size, n - a))
        return x["x"][:, :1]

    x = np.zeros((128, 2), np.float32)
    _, choice = calibrate(infer, {"x": x}, candidates=sizes, timer=clock)
    assert choice.size == 64  # its second timing, not its stalled first, counts
    assert clock.calls[64] == 4  # two rounds of 128 objects in batches of 64
    # with a single timing the stall wins the race for 32: what the repeat prevents
    once = StallOnce()

    def infer_once(x: dict[str, Any], size: int) -> Any:
        n = len(x["x"])
        for a in range(0, n, size):
            once.run(min(size, n - a))
        return x["x"][:, :1]

    _, noisy = calibrate(infer_once, {"x": x}, candidates=sizes, timer=once, repeats=1)
    assert noisy.size == 32


@pytest.fixture
def fake_session(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The Tagger's onnxruntime calls go through a session whose cost is the clock's."""
    clock = FakeClock()

    def run_cpu(sess: Any, inputs: dict[str, Any]) -> Any:
        n = len(next(iter(inputs.values())))
        clock.run(n)
        return np.zeros((n, 1), np.float32)

    monkeypatch.setattr(runtimes, "run_cpu", run_cpu)
    monkeypatch.setattr(calibration, "_timer", clock)
    return clock


def _chunk(sample: Any) -> Any:
    import uproot

    with uproot.open(sample.files[("qcd", "sparse")]) as f:
        return f["Events"].arrays()


def _score(tagger: Tagger, chunk: Any) -> None:
    """Score with the first batch holding every selected jet (the sample is small)."""
    tagger(chunk)


def test_tagger_calibrates_once_then_reads_the_cache(
    fake_session: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jet_tagger: Path,
    sample: Any,
) -> None:  # fmt: skip
    monkeypatch.setenv(calibration.CACHE_ENV, str(tmp_path))
    chunk = _chunk(sample)
    tagger = Tagger(jet_tagger, device="cpu")
    tagger.frame_memory_mb = 3 * 128 * 4 * 3 * 125 * 125 / 2**20  # batches of 128 frames
    assert tagger.batch_choice is None
    # the sample holds fewer than 128 selected jets per chunk: repeat it
    big = ak.concatenate([chunk] * 4)
    _score(tagger, big)
    assert tagger.batch_choice is not None
    assert (tagger.batch_choice.size, tagger.batch_choice.how) == (64, "calibrated")
    measured = sum(fake_session.calls.values())
    doc = (tmp_path / "batch_sizes.json").read_text()
    assert '"version": 1' in doc
    # a second Tagger (a fresh process: the file, not the memory) measures nothing
    calibration._DEFAULT.clear()
    again = Tagger(jet_tagger, device="cpu")
    again.frame_memory_mb = tagger.frame_memory_mb
    before = Counter(fake_session.calls)
    _score(again, big)
    assert again.batch_choice is not None
    assert (again.batch_choice.size, again.batch_choice.how) == (64, "cached")
    new = fake_session.calls - before
    assert set(new) <= {64, *range(1, 64)}  # only batches of the cached size (and tails)
    assert measured > sum(new.values())


def test_a_smaller_frame_budget_measures_again(
    fake_session: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jet_tagger: Path,
    sample: Any,
) -> None:  # fmt: skip
    """The cache key holds the candidate sizes the frame budget allows: a size measured
    among 16..128 is not read back by a run whose budget allows only 16..32 (it never
    fits), nor the other way round."""
    monkeypatch.setenv(calibration.CACHE_ENV, str(tmp_path))
    big = ak.concatenate([_chunk(sample)] * 4)
    per_frame = 4 * 3 * 125 * 125 / 2**20
    wide = Tagger(jet_tagger, device="cpu")
    wide.frame_memory_mb = 3 * 128 * per_frame  # candidates 16..128
    _score(wide, big)
    assert wide.batch_choice is not None
    assert (wide.batch_choice.size, wide.batch_choice.how) == (64, "calibrated")
    calibration._DEFAULT.clear()
    narrow = Tagger(jet_tagger, device="cpu")
    narrow.frame_memory_mb = 3 * 32 * per_frame  # candidates 16, 32
    _score(narrow, big)
    assert narrow.batch_choice is not None
    assert (narrow.batch_choice.size, narrow.batch_choice.how) == (32, "calibrated")
    assert not set(fake_session.calls) - set(range(1, 129))
    doc = json.loads((tmp_path / "batch_sizes.json").read_text())
    assert sorted(doc["entries"].values()) == [32, 64]  # one entry per candidate set


def test_a_fixed_batch_size_skips_calibration(
    fake_session: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jet_tagger: Path,
    sample: Any,
) -> None:  # fmt: skip
    monkeypatch.setenv(calibration.CACHE_ENV, str(tmp_path))
    tagger = Tagger(jet_tagger, device="cpu", batch_size=32)
    tagger.frame_memory_mb = 3 * 128 * 4 * 3 * 125 * 125 / 2**20
    _score(tagger, ak.concatenate([_chunk(sample)] * 4))
    assert tagger.batch_choice is not None
    assert tagger.batch_choice.label == "fixed:32"
    assert set(fake_session.calls) <= set(range(1, 33))
    assert not (tmp_path / "batch_sizes.json").exists()


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"version": 1, "entries": {"k": "sixty-four"}}',
        '{"version": 1, "entries": {"k": 64, "k": 32}}',  # duplicate key: refused
        '{"version": 99, "entries": {}}',
        "[]",
    ],
)
def test_a_corrupt_cache_is_ignored_with_a_warning(tmp_path: Path, text: str) -> None:
    path = tmp_path / "batch_sizes.json"
    path.write_text(text)
    cache = BatchSizeCache(path)
    with pytest.warns(CalibrationCacheWarning, match="batch-size cache ignored"):
        assert cache.get("k") is None
    cache.put("k", 64)  # replaced by a good one, atomically
    assert BatchSizeCache(path).get("k") == 64


def test_the_summary_report() -> None:
    assert batch_report({}) == {}
    assert batch_report({"calibrated:64": 3}) == {"size": 64, "how": "calibrated"}
    got = batch_report({"calibrated:64": 3, "cached:128": 1})
    assert got["size"] == 64
    assert got["chunks"] == {"calibrated:64": 3, "cached:128": 1}


def test_the_run_summary_reports_the_batch_size(sample: Any, jet_tagger: Path) -> None:
    """summary.json's ``taggers[name]["batch_size"]``: the size and how it was chosen."""
    import e2e_coffea
    from e2e_coffea.hists.summary import summarize

    tagger = Tagger(jet_tagger, device="cpu", batch_size=32)
    result = e2e_coffea.run(sample.fileset["sparse"], [tagger], chunksize=40, progress=False)
    got = summarize(result, [tagger.spec])["taggers"][tagger.name]["batch_size"]
    assert got == {"size": 32, "how": "fixed"}
