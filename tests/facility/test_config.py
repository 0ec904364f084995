"""Facility configs: the shipped examples load, job scripts carry the GPU requests, and
bad input is refused with a precise message before anything is started or submitted."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_coffea.cli import main
from e2e_coffea.exceptions import ClusterConfigError, SchedulerUnreachableError
from e2e_coffea.facility import (
    connect,
    job_script,
    load_cluster_config,
    parse_cluster_config,
    require_gpu,
)

REPO = Path(__file__).parents[2]
SHIPPED = sorted((REPO / "facility").glob("*.yaml"))

CPU_GPU = {
    "facility": "htcondor",
    "pools": {
        "cpu": {"jobs": 2, "cores": 4, "memory": "8GB", "disk": "2GB"},
        "gpu": {"jobs": 1, "gpus": 1, "memory": "16GB", "disk": "2GB"},
    },
}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = yaml.safe_load(yaml.safe_dump(base))  # deep copy
    out.update(changes)
    return out


def test_every_shipped_config_loads() -> None:
    assert {p.stem for p in SHIPPED} >= {
        "local",
        "htcondor-gpu",
        "slurm-gpu",
        "coffea-casa",
        "dask-gateway-eaf",
    }
    for path in SHIPPED:
        cfg = load_cluster_config(path)
        assert cfg.source == str(path)
        assert cfg.pools


@pytest.mark.parametrize(
    ("config", "lines"),
    [
        ("htcondor-gpu.yaml", ["request_gpus = 1", "--resources GPU=1", "--nthreads 1"]),
        (
            "slurm-gpu.yaml",
            ["#SBATCH --gres=gpu:1", "--resources GPU=1", "--nthreads 1", "apptainer exec --nv"],
        ),
        ("local.yaml", ["--resources GPU=1", "--nthreads 1", "--name gpu-0"]),
    ],
)
def test_gpu_job_scripts_request_a_gpu(config: str, lines: list[str]) -> None:
    cfg = load_cluster_config(REPO / "facility" / config)
    gpu = job_script(cfg, "gpu")
    for line in lines:
        assert line in gpu, f"{line!r} missing from\n{gpu}"
    cpu = job_script(cfg, "cpu")
    for line in ("request_gpus", "--gres", "GPU=1", "--nv"):
        assert line not in cpu
    assert "<scheduler-address>" in gpu  # rendered, not submitted: no scheduler exists


def test_htcondor_image_runs_the_images_python() -> None:
    cfg = load_cluster_config(REPO / "facility" / "htcondor-gpu.yaml")
    script = job_script(cfg, "cpu")
    assert '+SingularityImage = "/cvmfs/' in script
    assert "python3 -m distributed.cli.dask_worker" in script


def test_job_script_names_the_valid_worker_types() -> None:
    cfg = parse_cluster_config(CPU_GPU)
    with pytest.raises(ClusterConfigError, match=r"no worker type 'tpu'.*\['cpu', 'gpu'\]"):
        job_script(cfg, "tpu")
    gateway = load_cluster_config(REPO / "facility" / "dask-gateway-eaf.yaml")
    with pytest.raises(ClusterConfigError, match="has no job scripts"):
        job_script(gateway, "gpu")


@pytest.mark.skipif(
    importlib.util.find_spec("coffea_casa") is not None, reason="coffea_casa is installed here"
)
def test_coffea_casa_without_its_package_says_how_to_install() -> None:
    cfg = load_cluster_config(REPO / "facility" / "coffea-casa.yaml")
    with pytest.raises(ImportError, match="pip install coffea-casa"):
        job_script(cfg, "cpu")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            with_(CPU_GPU, walltime="1h"),
            r"unknown key 'walltime' in top level; valid keys: \['address'",
        ),
        (
            with_(CPU_GPU, pools={"gpu": {"gpu": 1, "disk": "1GB"}}),
            r"unknown key 'gpu' in pools.gpu; valid keys: .*'gpus'",
        ),
        (with_(CPU_GPU, environment={"imagee": "x"}), r"unknown key 'imagee' in environment"),
        (with_(CPU_GPU, facility="pbs"), r"facility must be one of .*got 'pbs'"),
        (
            with_(CPU_GPU, pools={"cpu": {"jobs": "2", "disk": "1GB"}}),
            r"pools.cpu.jobs must be an integer, got str",
        ),
        (
            with_(CPU_GPU, pools={"cpu": {"jobs": True, "disk": "1GB"}}),
            r"pools.cpu.jobs must be an integer, got bool",
        ),
        (
            with_(CPU_GPU, pools={"cpu": {"memory": "lots", "disk": "1GB"}}),
            r"pools.cpu.memory must be a size.*'lots'",
        ),
        (
            with_(CPU_GPU, pools={"cpu": {"worker_extra_args": [1], "disk": "1GB"}}),
            r"worker_extra_args must be a list of strings",
        ),
        (with_(CPU_GPU, pools={"cpu": {}}), r"pools.cpu.disk is required for htcondor"),
        (with_(CPU_GPU, pools={"gpu": {"gpus": 2, "disk": "1GB"}}), r"gpus must be 0 or 1"),
        (
            with_(CPU_GPU, pools={"gpu": {"gpus": 1, "cores": 4, "disk": "1GB"}}),
            r"one process with one thread per GPU.*cores=4",
        ),
        (
            with_(CPU_GPU, pools={"cpu": {"disk": "1GB", "options": {"n_workers": 3}}}),
            r"options must not set \['n_workers'\]",
        ),
        (
            {"facility": "slurm", "pools": {"g": {"gpus": 1, "job_extra_directives": {"a": "b"}}}},
            r"pools.g.job_extra_directives must be a list of lines for slurm",
        ),
        (
            with_(CPU_GPU, pools={"cpu": {"disk": "1GB", "job_extra_directives": ["x"]}}),
            r"pools.cpu.job_extra_directives must be a mapping of submit keys for htcondor",
        ),
        (
            with_(CPU_GPU, models={"ship": "rsync"}),
            r"models.ship must be 'path' or 'upload', got 'rsync'",
        ),
        (with_(CPU_GPU, models={"worker_dir": "models"}), r"worker_dir must be an absolute path"),
        ({"facility": "scheduler"}, r"needs 'address'"),
        ({"facility": "gateway", "pools": {"a": {}, "b": {}}, "gateway": {}}, r"exactly one pool"),
        (
            {"facility": "gateway", "pools": {"a": {"cores": 2}}, "gateway": {}},
            r"unknown key 'cores' in pools.a; valid keys: \['gpus', 'jobs', 'options'\]",
        ),
        (
            {"facility": "local", "pools": {"a": {"job_script_prologue": ["module load cuda"]}}},
            r"without a shell",
        ),
        ({"facility": "local", "pools": {"1x": {}}}, r"pool name '1x'"),
        ([1, 2], r"top level must be a mapping, got list"),
    ],
)
def test_bad_configs_are_refused_naming_the_key(data: Any, match: str) -> None:
    with pytest.raises(ClusterConfigError, match=match):
        parse_cluster_config(data)


def test_gpu_asked_for_where_no_worker_type_has_one() -> None:
    cpu_only = with_(CPU_GPU, pools={"cpu": {"disk": "1GB"}})
    with pytest.raises(ClusterConfigError, match=r"no worker type.*has one.*\{'cpu': 0\}"):
        parse_cluster_config(with_(cpu_only, device="cuda"))
    with pytest.raises(ClusterConfigError, match="no worker type"):
        require_gpu(parse_cluster_config(cpu_only))
    require_gpu(parse_cluster_config(CPU_GPU))  # has one: fine
    tagged = with_(
        cpu_only, pools={"cpu": {"disk": "1GB", "worker_extra_args": ["--resources", "GPU=1"]}}
    )
    with pytest.raises(ClusterConfigError, match="gpus is 0: set gpus: 1"):
        parse_cluster_config(tagged)


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("facility: local\npools:\n  cpu: {jobz: 1}\n")
    with pytest.raises(ClusterConfigError, match=rf"{bad}: unknown key 'jobz' in pools.cpu"):
        load_cluster_config(bad)
    with pytest.raises(ClusterConfigError, match="does not exist"):
        load_cluster_config(tmp_path / "nope.yaml")
    bad.write_text("facility: [local\n")
    with pytest.raises(ClusterConfigError, match="not valid YAML"):
        load_cluster_config(bad)


def test_unreachable_scheduler_names_the_address() -> None:
    cfg = parse_cluster_config(
        {"facility": "scheduler", "address": "tcp://127.0.0.1:1", "wait_timeout": 2}
    )
    with pytest.raises(SchedulerUnreachableError, match=r"tcp://127.0.0.1:1 within 2 s"):
        connect(cfg)


def test_unreachable_gateway_names_the_address() -> None:
    cfg = parse_cluster_config(
        {
            "facility": "gateway",
            "gateway": {"address": "http://127.0.0.1:1"},
            "pools": {"cpu": {"jobs": 1}},
        }
    )
    with pytest.raises(
        SchedulerUnreachableError, match=r"no dask-gateway answered at http://127.0.0.1:1"
    ):
        connect(cfg)


@pytest.mark.parametrize(
    ("extra", "match", "code"),
    [
        ([], "unknown key 'jobz' in pools.cpu", 2),
        (["--scheduler", "tcp://127.0.0.1:1"], "--cluster and --scheduler are exclusive", 2),
    ],
)
def test_cli_refuses_bad_cluster_before_starting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    jet_tagger: Path,
    extra: list[str],
    match: str,
    code: int,
) -> None:
    cfg = tmp_path / "site.yaml"
    cfg.write_text(
        "facility: local\npools:\n  cpu: {jobz: 1}\n"
        if not extra
        else "facility: local\npools:\n  cpu: {jobs: 1}\n"
    )
    rc = main(
        [
            "run",
            "--fileset",
            str(tmp_path / "fileset.json"),
            "--tagger",
            str(jet_tagger),
            "--cluster",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert rc == code
    assert match in err
    assert not (tmp_path / "o").exists()


def test_cli_gpu_request_needs_a_gpu_worker_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jet_tagger: Path
) -> None:
    cfg = tmp_path / "site.yaml"
    cfg.write_text("facility: local\npools:\n  cpu: {jobs: 1}\n")
    rc = main(
        [
            "run",
            "--fileset",
            str(tmp_path / "fileset.json"),
            "--tagger",
            str(jet_tagger),
            "--cluster",
            str(cfg),
            "--gpu-workers",
            "1",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    assert "no worker type of this local config has one" in capsys.readouterr().err


def test_gateway_options_are_checked_against_what_the_server_offers() -> None:
    """The server's option list is real dask_gateway ``Options``; only the HTTP call is left out."""
    import dask_gateway.options as options

    from e2e_coffea.facility.gateway import gateway_options

    class Server:  # what Gateway.cluster_options() returns for this facility
        address = "https://gateway.example"

        def cluster_options(self) -> Any:
            return options.Options(
                options.Integer("worker_cores", 1, min=1, max=8), options.String("image", "default")
            )

    cfg = load_cluster_config(REPO / "facility" / "dask-gateway-eaf.yaml")
    with pytest.raises(
        ClusterConfigError,
        match=r"option 'worker_memory' is not offered.*\['image', 'worker_cores'\]",
    ):
        gateway_options(cfg, Server())
    ok = parse_cluster_config(
        {
            "facility": "gateway",
            "gateway": {"options": {"image": "mine:1"}},
            "pools": {"gpu": {"gpus": 1, "options": {"worker_cores": 2}}},
        }
    )
    opts = gateway_options(ok, Server())
    assert (opts["image"], opts["worker_cores"]) == ("mine:1", 2)
