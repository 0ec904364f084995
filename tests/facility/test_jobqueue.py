"""A real dask-jobqueue cluster from ``facility/local.yaml``: two worker types, each its
own cluster object, joined to one scheduler; the chunks go to the GPU-tagged worker and
the output is identical to an iterative run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.facility import load_cluster_config
from e2e_coffea.processor.serialize import load_output

REPO = Path(__file__).parents[2]


# hists/summary.py's ROC plot still passes mplhep's deprecated `label=` (not this area's file)
@pytest.mark.filterwarnings(
    "ignore:kwarg `label` in function `label\\(\\)` is deprecated:FutureWarning"
)
def test_cli_runs_on_local_jobqueue_cpu_and_gpu_pools(
    tmp_path: Path, sample: Any, jet_tagger: Path, reference: Any, hists_equal: Any
) -> None:
    cfg = yaml.safe_load((REPO / "facility" / "local.yaml").read_text())
    cfg["models"]["worker_dir"] = str(tmp_path / "worker-models")
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(cfg))
    assert len(load_cluster_config(site).pools) == 2

    out = tmp_path / "out"
    rc = main(
        [
            "run",
            "--cluster",
            str(site),
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
    assert output["entries"] == reference.output["entries"] == {"qcd": 40, "tau": 40}
    assert hists_equal(output["hists"], reference.output["hists"])
    assert output["cutflow"] == reference.output["cutflow"]

    facility = json.loads((out / "facility.json").read_text())
    assert facility["facility"] == "local"
    assert facility["pools"] == {
        "cpu": {"jobs": 1, "workers": 1, "gpus": 0},
        "gpu": {"jobs": 1, "workers": 1, "gpus": 1},
    }
    # both pools' workers registered with one scheduler (one address book) ...
    names = {w["name"]: w["resources"] for w in facility["workers"].values()}
    assert names == {"cpu-0": {}, "gpu-0": {"GPU": 1.0}}
    # ... and every chunk ran on the GPU-tagged one
    assert facility["entries_per_worker"] == {"gpu-0": 80}
    assert facility["lost_workers"] == []

    # the model reached the workers by upload, content-addressed
    uploaded = list((tmp_path / "worker-models").glob("*/jet_simplenet.onnx"))
    assert len(uploaded) == 1
    assert uploaded[0].read_bytes() == jet_tagger.read_bytes()
