"""Chaos: Dask workers killed with SIGKILL at (seeded) random moments of a 20-file run.

With retries on, the result must equal a clean run's bin for bin, and every entry must
be accounted for: processed + failed == expected, with nothing failed. The workers also
write checkpoints while they are being killed; a rerun from them computes nothing and
gives the same result. A watchdog stops
the test (closing the cluster) rather than letting a hung run hang the suite.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import dask
import pytest

from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run
from e2e_coffea.runner.cluster import local_cluster

N_FILES = 20
EVENTS_PER_FILE = 10
CHUNKSIZE = 5  # 2 chunks per file, 40 in all
KILLS = 4
SEED = 20240611
WATCHDOG_S = 180.0


@pytest.fixture
def twenty_files(sample: Any, rewrite: Any, fileset_writer: Any, tmp_path: Path) -> Path:
    """20 small files, alternately tau and qcd, in two datasets."""
    files: dict[str, dict[str, str]] = {"tau": {}, "qcd": {}}
    for i in range(N_FILES):
        ds = ("tau", "qcd")[i % 2]
        dst = rewrite(
            sample.files[(ds, "sparse")], tmp_path / f"{ds}_{i:02d}.root", n_events=EVENTS_PER_FILE
        )
        files[ds][str(dst)] = "Events"
    return Path(fileset_writer(tmp_path / "fs.json", files))


class Killer(threading.Thread):
    """SIGKILLs a worker process after each seeded delay; the Nanny starts a new one."""

    def __init__(self, client: Any, seed: int, kills: int) -> None:
        super().__init__(daemon=True)
        rng = random.Random(seed)
        self.delays = [rng.uniform(0.8, 2.5) for _ in range(kills)]
        self.picks = [rng.random() for _ in range(kills)]
        self.client = client
        self.stop = threading.Event()
        self.killed: list[tuple[float, str, int]] = []
        self.errors: list[str] = []
        self.t0 = time.monotonic()

    def run(self) -> None:
        for delay, pick in zip(self.delays, self.picks, strict=True):
            if self.stop.wait(delay):
                return
            try:  # a worker that is starting up does not answer yet: it is not a victim
                pids = self.client.run(os.getpid, on_error="ignore")
            except Exception as err:  # the cluster is going away
                self.errors.append(repr(err))
                continue
            alive = sorted(pids.items())
            if not alive:
                continue
            name, pid = alive[int(pick * len(alive))]
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            self.killed.append((time.monotonic() - self.t0, str(name), pid))


def test_random_worker_kills_lose_nothing(
    twenty_files: Path,
    jet_tagger: Path,
    hists_equal: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kw: dict[str, Any] = {"chunksize": CHUNKSIZE, "device": "cpu", "progress": False}
    clean = run(twenty_files, [jet_tagger], executor="iterative", **kw)
    assert clean.complete
    expected = N_FILES * EVENTS_PER_FILE
    assert clean.processed == expected

    # a task may be on a killed worker more than once: let the scheduler reschedule it
    with dask.config.set({"distributed.scheduler.allowed-failures": 2 * KILLS}):
        cluster = local_cluster(2, 0)
    from distributed import Client

    client = Client(cluster)
    client.wait_for_workers(2, timeout=60)
    box: dict[str, Any] = {}
    ckpt = tmp_path / "ckpt"

    def target() -> None:
        try:
            box["result"] = run(
                twenty_files, [jet_tagger], executor="dask", client=client, retries=2,
                checkpoint_dir=ckpt, **kw,
            )  # fmt: skip
        except BaseException as err:  # reported by the test thread below
            box["error"] = err

    killer = Killer(client, SEED, KILLS)
    runner = threading.Thread(target=target, daemon=True)
    try:
        killer.start()
        runner.start()
        runner.join(WATCHDOG_S)
        hung = runner.is_alive()
        killer.stop.set()
        killer.join(10)
    finally:
        client.close()
        cluster.close()
    assert not hung, f"watchdog: the run did not finish in {WATCHDOG_S} s; kills {killer.killed}"
    if "error" in box:
        raise box["error"]
    result = box["result"]
    assert killer.killed, f"no worker was killed while the run ran ({killer.errors})"
    failed = sum((f.entry_stop or 0) - (f.entry_start or 0) for f in result.failed)
    assert result.processed + failed == expected
    assert result.failed == []
    assert result.complete
    assert result.output["entries"] == clean.output["entries"]
    assert result.output["chunks"] == clean.output["chunks"]
    assert result.output["cutflow"] == clean.output["cutflow"]
    assert hists_equal(result.output["hists"], clean.output["hists"])

    # the workers' checkpoints survived the kills whole: a rerun computes nothing
    def no_compute(self: Any, events: Any) -> Any:
        msg = f"chunk recomputed: {events.metadata}"
        raise AssertionError(msg)

    monkeypatch.setattr(E2ETaggerProcessor, "process", no_compute)
    resumed = run(twenty_files, [jet_tagger], checkpoint_dir=ckpt, **kw)
    assert resumed.complete
    assert hists_equal(resumed.output["hists"], clean.output["hists"])
    assert resumed.output["cutflow"] == clean.output["cutflow"]
