"""facility/dask-gateway-eaf.yaml against a real dask-gateway server (its local backend,
through its TLS proxy): the shipped option names are offered and applied, the GPU tag
reaches the worker, and the result equals a local run bin for bin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.processor.serialize import load_output

REPO = Path(__file__).parents[2]


@pytest.mark.filterwarnings(
    "ignore:kwarg `label` in function `label\\(\\)` is deprecated:FutureWarning"
)
def test_the_gateway_config_runs_through_a_real_gateway(
    gateway: str,
    tmp_path: Path,
    sample: Any,
    jet_tagger: Path,
    reference: Any,
    hists_equal: Any,
) -> None:
    cfg = yaml.safe_load((REPO / "facility" / "dask-gateway-eaf.yaml").read_text())
    # only where the gateway is, and what this machine can give, change
    cfg["gateway"].update(address=gateway, proxy_address=None, auth="basic")
    cfg["environment"] = {}  # the workers run this checkout's environment (no pip)
    cfg["models"]["worker_dir"] = str(tmp_path / "worker-models")
    cfg["pools"]["gpu"].update(jobs=1)
    cfg["pools"]["gpu"]["options"].update(worker_memory=2)
    cfg["wait_timeout"] = 120
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(cfg))

    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--cluster",
            str(path),
            "--fileset",
            str(sample.fileset["sparse"]),
            "--tagger",
            str(jet_tagger),
            "--chunksize",
            "20",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    output = load_output(out)
    assert output["entries"] == reference.output["entries"]
    assert hists_equal(output["hists"], reference.output["hists"])
    facility = json.loads((out / "facility.json").read_text())
    assert facility["facility"] == "gateway"
    [worker] = facility["workers"].values()
    assert worker["resources"] == {"GPU": 1.0}  # tagged by the plugin, as the config says
    assert worker["nthreads"] == 1  # worker_cores from the config, applied by the gateway
    assert sum(facility["entries_per_worker"].values()) == 80


def test_a_cluster_the_gateway_cannot_start_stops_the_run_with_one_line(
    tmp_path: Path, sample: Any, jet_tagger: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from dask_gateway import GatewayClusterError

    from e2e_coffea.facility import gateway as module

    class FailingGateway:  # what dask-gateway's client sees when the scheduler job fails
        address = "http://gateway.test:8000"

        def cluster_options(self) -> dict[str, Any]:
            return {"image": "", "worker_cores": 1, "worker_memory": 1}

        def new_cluster(self, *args: Any, **kwargs: Any) -> Any:
            msg = "Cluster 'abc' failed to start, see logs for more information"
            raise GatewayClusterError(msg)

        def close(self) -> None:
            pass

    monkeypatch.setattr(module, "_gateway", lambda config: FailingGateway())
    path = tmp_path / "gateway.yaml"
    path.write_text((REPO / "facility" / "dask-gateway-eaf.yaml").read_text())
    args = ["run", "--cluster", str(path), "--fileset", str(sample.fileset["sparse"])]
    rc = main([*args, "--tagger", str(jet_tagger), "--out", str(tmp_path / "out")])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "internal error" not in err
    assert "the dask-gateway at http://gateway.test:8000 could not start a cluster" in err
    assert "failed to start" in err
    assert "scheduler job's output" in err
