"""A real ``dask scheduler`` and ``dask worker`` processes, started here as a facility
would start them: the main job joins by address, the GPU-tagged worker takes every chunk,
models arrive by upload, and a worker that dies mid-run is reported while its tasks
re-run elsewhere. Every process is terminated by a finalizer, with bounded waits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.facility import connect, parse_cluster_config, ship_models, watch_workers
from e2e_coffea.runner import run

STARTUP_S = 60.0


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@pytest.fixture
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler process on 127.0.0.1, one per test (plugins registered on it persist)."""
    tmp = tmp_path_factory.mktemp("scheduler")
    file = tmp / "scheduler.json"
    log = (tmp / "scheduler.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--scheduler-file",
            str(file),
            "--no-dashboard",
            "--dashboard-address",
            ":0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_S
        while not file.exists() or not file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"scheduler did not start: {(tmp / 'scheduler.log').read_text()}")
            time.sleep(0.1)
        yield str(json.loads(file.read_text())["address"])
    finally:
        _stop(proc)
        log.close()


@pytest.fixture
def start_worker(
    scheduler: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_worker(name, gpu=False)``: a one-thread worker process without a nanny."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, gpu: bool = False) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            scheduler,
            "--name",
            name,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--death-timeout",
            "30",
        ]
        if gpu:
            cmd += ["--resources", "GPU=1"]
        log = (tmp_path / f"{name}.log").open("wb")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        log.close()
        return procs[-1]

    try:
        yield start
    finally:
        for p in procs:  # all at once: each takes a few seconds to say goodbye
            if p.poll() is None:
                p.terminate()
        for p in procs:
            _stop(p)


@pytest.fixture
def client(scheduler: str) -> Iterator[Any]:
    from distributed import Client

    c = Client(scheduler, timeout=STARTUP_S)
    try:
        yield c
    finally:
        c.close()


def test_run_by_address_sends_chunks_to_the_gpu_worker(
    scheduler: str,
    start_worker: Any,
    client: Any,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
    tmp_path: Path,
) -> None:
    start_worker("gpu-0", gpu=True)
    start_worker("cpu-0")
    client.wait_for_workers(2, timeout=STARTUP_S)

    # the facility view of the same scheduler: a GPU worker type exists, so device cuda
    # would be allowed to start (it is not used here: there is no CUDA on this machine)
    cfg = parse_cluster_config(
        {"facility": "scheduler", "address": scheduler, "device": "cuda", "wait_timeout": 10}
    )
    with connect(cfg) as conn:
        assert sorted(w["name"] for w in conn.client.scheduler_info()["workers"].values()) == [
            "cpu-0",
            "gpu-0",
        ]
    joined, cleanup = connect(cfg)  # the notebook form
    assert joined.scheduler.address == scheduler
    cleanup()

    # models by upload: the workers get their own copy; the client's is gone before the run
    private = tmp_path / "private" / jet_tagger.name
    private.parent.mkdir()
    shutil.copy(jet_tagger, private)
    specs = ship_models(client, [private], str(tmp_path / "worker-models"))
    shutil.rmtree(private.parent)
    assert Path(specs[0].path).is_file()
    assert specs[0].path.startswith(str(tmp_path / "worker-models"))

    result = run(
        sample.fileset["sparse"],
        specs,
        executor="dask",
        scheduler=scheduler,
        chunksize=20,
        device="cpu",
        progress=False,
    )
    assert result.complete
    assert result.output["metrics"]["worker"] == {"gpu-0": 80}
    assert hists_equal(result.output["hists"], reference.output["hists"])
    assert result.output["cutflow"] == reference.output["cutflow"]


def test_worker_that_dies_is_reported_and_its_tasks_rerun(
    scheduler: str,
    start_worker: Any,
    client: Any,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
) -> None:
    victim = start_worker("victim")
    client.wait_for_workers(1, timeout=STARTUP_S)
    (victim_addr,) = client.scheduler_info()["workers"]
    box: dict[str, Any] = {}

    def job() -> None:
        with watch_workers(client) as report:
            try:
                box["result"] = run(
                    sample.fileset["sparse"],
                    [jet_tagger],
                    executor="dask",
                    client=client,
                    chunksize=20,
                    device="cpu",
                    progress=False,
                )
            except BaseException as err:  # surfaced by the assertions below
                box["error"] = err
        box["report"] = report

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not client.processing(workers=[victim_addr]).get(victim_addr):  # the victim has work
        assert time.monotonic() < deadline, "the victim never got a task"
        assert thread.is_alive(), box
        time.sleep(0.05)
    victim.kill()  # SIGKILL mid-task: no goodbye, no nanny to restart it
    victim.wait(10)
    start_worker("survivor")  # the scheduler re-runs the lost tasks here
    thread.join(timeout=240)
    assert not thread.is_alive(), "run did not finish after the worker died"
    assert "error" not in box, box.get("error")

    result, report = box["result"], box["report"]
    assert result.complete
    assert hists_equal(result.output["hists"], reference.output["hists"])
    assert set(result.output["metrics"]["worker"]) <= {"victim", "survivor"}
    assert result.output["metrics"]["worker"].get("survivor", 0) > 0
    lost = [w for w in report.lost if w["worker"] == victim_addr]
    assert len(lost) == 1
    assert lost[0]["name"] == "victim"
    assert not lost[0]["expected"]
    assert lost[0]["processing_tasks"] >= 1


def test_worker_plugins_tag_gpus_and_upload_the_package(
    scheduler: str, client: Any, tmp_path: Path
) -> None:
    """What a gateway or a bare image gets: the GPU tag and the package, after start."""
    from e2e_coffea.facility import EnvironmentConfig, GPUResourcePlugin, register_environment

    log = (tmp_path / "nanny.log").open("wb")
    worker = subprocess.Popen(  # with a nanny: uploading the package restarts the worker
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            scheduler,
            "--name",
            "w",
            "--nthreads",
            "1",
            "--nanny",
            "--no-dashboard",
            "--local-directory",
            str(tmp_path / "local"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        client.wait_for_workers(1, timeout=STARTUP_S)
        client.register_plugin(GPUResourcePlugin(1), name=GPUResourcePlugin.name)
        (info,) = client.scheduler_info()["workers"].values()
        assert info["resources"] == {"GPU": 1}

        register_environment(client, EnvironmentConfig(upload_package=True))
        client.wait_for_workers(1, timeout=STARTUP_S)
        (where,) = client.run(lambda: __import__("e2e_coffea").__file__).values()
        assert Path(where).is_relative_to(tmp_path / "local")  # the uploaded copy, not the checkout
        assert Path(where).parent.name == "e2e_coffea"
    finally:
        _stop(worker, timeout=20)
