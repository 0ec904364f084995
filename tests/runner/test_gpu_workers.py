"""GPU workers: one process per GPU, pinned by CUDA_VISIBLE_DEVICES, and a whole run on a
GPU worker giving the CPU run's result.

Without GPUs the dask-cuda recipe is replaced by a stand-in that returns what
``dask_cuda.worker_spec.worker_spec`` documents (a Nanny per device, its
``CUDA_VISIBLE_DEVICES`` rotated to put that device first); the cluster is then really
started, and each worker process reports the pin it got.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_coffea.runner import cuda_cluster
from e2e_coffea.runner.cluster import local_cluster

pytestmark = pytest.mark.gpu  # a device test (CPU here, CUDA too on a GPU): -m gpu

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
CHUNKSIZE = 15


def fake_worker_spec(
    CUDA_VISIBLE_DEVICES: list[int], threads_per_worker: int = 1, **kw: Any
) -> Any:
    """dask-cuda's documented spec shape, without NVML, CPU affinity or CUDA preloads."""
    from distributed import Nanny

    devs = list(CUDA_VISIBLE_DEVICES)
    return {
        d: {
            "cls": Nanny,
            "options": {
                "env": {"CUDA_VISIBLE_DEVICES": ",".join(map(str, devs[i:] + devs[:i]))},
                "interface": None,
                "protocol": kw.get("protocol"),
                "nthreads": threads_per_worker,
                "data": dict,
                "dashboard_address": kw.get("dashboard_address"),
                "silence_logs": True,
            },
        }
        for i, d in enumerate(devs)
    }


def _workers(client: Any) -> dict[str, dict[str, Any]]:
    info = client.scheduler_info(n_workers=-1)["workers"]
    return {str(w["name"]): {"addr": a, **w} for a, w in info.items()}


def test_two_gpu_workers_each_pinned_to_their_own_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from distributed import Client

    monkeypatch.setattr(cuda_cluster, "visible_gpus", lambda: [0, 1])
    monkeypatch.setattr(cuda_cluster, "_dask_cuda_worker_spec", lambda: fake_worker_spec)
    specs = cuda_cluster.gpu_worker_specs(2, threads=2)
    assert list(specs) == ["gpu-0", "gpu-1"]
    for name, spec in specs.items():
        o = spec["options"]
        assert o["name"] == name
        assert o["host"] == "127.0.0.1"
        assert o["resources"] == {"GPU": 2}
        assert o["nthreads"] == 2
        assert "interface" not in o  # host and interface are exclusive
    with local_cluster(1, 2) as cluster, Client(cluster) as client:
        client.wait_for_workers(3, timeout=120)
        workers = _workers(client)
        pins = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
    assert set(workers) == {"cpu-0", "gpu-0", "gpu-1"}
    pin = {name: pins[w["addr"]] for name, w in workers.items()}
    assert pin["gpu-0"] == "0,1"
    assert pin["gpu-1"] == "1,0"
    assert pin["cpu-0"] == os.environ.get("CUDA_VISIBLE_DEVICES")  # CPU workers untouched
    assert workers["gpu-0"]["resources"] == {"GPU": 2}
    assert not workers["cpu-0"]["resources"]
    assert all(w["addr"].startswith("tls://127.0.0.1:") for w in workers.values())  # loopback, TLS


def test_more_gpu_workers_than_gpus_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from e2e_coffea.exceptions import BadInputError

    monkeypatch.setattr(cuda_cluster, "visible_gpus", lambda: [0])
    monkeypatch.setattr(cuda_cluster, "_dask_cuda_worker_spec", lambda: fake_worker_spec)
    with pytest.raises(BadInputError, match="2 GPU workers but 1 GPU"):
        cuda_cluster.gpu_worker_specs(2)


def test_without_gpus_the_workers_are_plain_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cuda_cluster, "visible_gpus", list)
    specs = cuda_cluster.gpu_worker_specs(1)
    assert "env" not in specs["gpu-0"]["options"]
    assert "run on the CPU" in caplog.text


def test_dask_cuda_missing_on_a_gpu_machine_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from e2e_coffea.exceptions import E2EError

    monkeypatch.setattr(cuda_cluster, "visible_gpus", lambda: [0])
    monkeypatch.setitem(sys.modules, "dask_cuda", None)
    monkeypatch.setitem(sys.modules, "dask_cuda.worker_spec", None)
    with pytest.raises(E2EError, match=r"need dask-cuda.*e2e-coffea\[gpu\]"):
        cuda_cluster.gpu_worker_specs(1)


@pytest.mark.cuda
@pytest.mark.parametrize("n", [1, 2])
def test_real_dask_cuda_workers_see_their_own_gpu(n: int) -> None:
    import torch
    from distributed import Client

    pytest.importorskip(
        "dask_cuda", reason="dask-cuda is not installed (pip install e2e-coffea[gpu])"
    )
    if torch.cuda.device_count() < n:
        pytest.skip(f"needs {n} GPUs, this machine has {torch.cuda.device_count()}")

    def seen() -> tuple[str | None, str]:
        import torch

        return os.environ.get("CUDA_VISIBLE_DEVICES"), str(torch.cuda.get_device_properties(0).uuid)

    with local_cluster(0, n) as cluster, Client(cluster) as client:
        client.wait_for_workers(n, timeout=180)
        got = client.run(seen)
    firsts = {v[0].split(",")[0] for v in got.values() if v[0]}
    uuids = {v[1] for v in got.values()}
    assert len(got) == n
    assert len(firsts) == n
    assert len(uuids) == n


# -- a whole run -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cpu_run(synthetic_fileset: Path, jet_tagger: Path) -> Any:
    from e2e_coffea.runner import run

    return run(synthetic_fileset, [jet_tagger], executor="iterative",
               chunksize=CHUNKSIZE, device="cpu", progress=False)  # fmt: skip


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.usefixtures("cuda_ort")
def test_run_on_a_gpu_worker_equals_the_cpu_run(
    synthetic_fileset: Path,
    jet_tagger: Path,
    cpu_run: Any,
    device: str,
    hists_equal: Any,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``auto`` on a GPU worker: CUDA where it works (scores within TF32's reach of the
    CPU's, mean images within float32 reordering), else the CPU with the reason."""
    from e2e_coffea.runner import run

    if device == "cpu":  # a machine without a GPU, on a GPU machine too: the client sees
        request.getfixturevalue("cpu_machine")  # none, and the workers it starts inherit
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a hidden GPU

    res = run(synthetic_fileset, [jet_tagger], executor="dask", workers=1,
              gpu_workers=1, chunksize=CHUNKSIZE, device="auto", progress=False)  # fmt: skip
    assert res.complete
    assert res.processed == cpu_run.processed
    m, ref = res.output["metrics"], cpu_run.output["metrics"]
    chunks = m["chunks"]
    assert set(m["worker"]) == {"gpu-0"}
    assert m["device"] == {device: chunks}
    reason = "auto: torch sees no CUDA GPU" if device == "cpu" else "auto: torch sees a GPU"
    assert next(iter(m["device_reason"])).startswith(reason)
    assert m["objects"] == ref["objects"]
    assert m["oom_halvings"] == 0
    assert res.output["cutflow"] == cpu_run.output["cutflow"]
    if device == "cpu":
        assert hists_equal(res.output["hists"], cpu_run.output["hists"])
    else:
        _close_score_hists(res.output["hists"]["score"], cpu_run.output["hists"]["score"])
    for name, images in cpu_run.output["mean_images"].items():
        got = res.output["mean_images"][name]
        assert got.counts == images.counts
        for k, v in images.sums.items():
            np.testing.assert_allclose(got.sums[k], v, rtol=1e-5, atol=1e-6 * np.abs(v).max())


def _close_score_hists(a: Any, b: Any) -> None:
    """Same entries per label; scores only moved to nearby bins (TF32 on the GPU)."""
    for label in b.axes["label"]:
        va = a[{"label": label}].project("score").values()
        vb = b[{"label": label}].project("score").values()
        assert va.sum() == vb.sum()
        centers = b.axes["score"].centers
        mean_a, mean_b = (va * centers).sum() / va.sum(), (vb * centers).sum() / vb.sum()
        assert abs(mean_a - mean_b) < 5e-3
        assert np.abs(np.cumsum(va) - np.cumsum(vb)).max() <= max(2, 0.05 * vb.sum())
