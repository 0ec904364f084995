"""Run the main job at a facility: HTCondor, SLURM, coffea-casa, dask-gateway, or a
running scheduler, with CPU and GPU worker types described in one YAML file.

>>> from e2e_coffea.facility import load_cluster_config, connect   # doctest: +SKIP
>>> with connect(load_cluster_config("facility/htcondor-gpu.yaml")) as conn:  # doctest: +SKIP
...     result = run(fileset, conn.prepare_taggers(["tau_resnet15"]), executor="dask",
...                  client=conn.client)
"""

from __future__ import annotations

from ..exceptions import ClusterConfigError
from .config import (
    FACILITIES,
    ClusterConfig,
    EnvironmentConfig,
    GatewayConfig,
    ModelsConfig,
    PoolConfig,
    load_cluster_config,
    parse_cluster_config,
    require_gpu,
)
from .connect import (
    Connection,
    WorkerReport,
    build_clusters,
    connect,
    gpu_workers,
    run_on_cluster,
    watch_workers,
)
from .jobqueue import job_script
from .plugins import GPUResourcePlugin, ModelUploadPlugin, register_environment, ship_models

__all__ = [
    "FACILITIES",
    "ClusterConfig",
    "ClusterConfigError",
    "Connection",
    "EnvironmentConfig",
    "GPUResourcePlugin",
    "GatewayConfig",
    "ModelUploadPlugin",
    "ModelsConfig",
    "PoolConfig",
    "WorkerReport",
    "build_clusters",
    "connect",
    "gpu_workers",
    "job_script",
    "load_cluster_config",
    "parse_cluster_config",
    "register_environment",
    "require_gpu",
    "run_on_cluster",
    "ship_models",
    "watch_workers",
]
