"""Facility configurations: one YAML file describes where the workers come from.

Everything is checked here, when the file is read, so a typo costs an error message and
not a batch submission: unknown keys (named, with the valid ones), wrong types, and a GPU
asked for where no worker type has one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..exceptions import ClusterConfigError, MalformedInputError
from .tls import SecurityConfig, parse_security

__all__ = [
    "DEFAULT_WORKER_DIR",
    "FACILITIES",
    "ClusterConfig",
    "EnvironmentConfig",
    "GatewayConfig",
    "ModelsConfig",
    "PoolConfig",
    "load_cluster_config",
    "parse_cluster_config",
    "require_gpu",
]

DEFAULT_WORKER_DIR: Final = "~/.cache/e2e-coffea/models"
"""Per user, expanded on each worker: never a machine-wide path another user can plant."""

FACILITIES: Final = ("local", "htcondor", "slurm", "coffea-casa", "gateway", "scheduler")
"""``local``/``htcondor``/``slurm``/``coffea-casa`` submit jobs with dask-jobqueue,
``gateway`` asks a dask-gateway server, ``scheduler`` joins a running scheduler."""

JOBQUEUE: Final = ("local", "htcondor", "slurm", "coffea-casa")
_LIST_DIRECTIVES: Final = ("local", "slurm")  # job_extra_directives is a list of lines
_RESERVED_OPTIONS: Final = frozenset(
    {
        "name",
        "n_workers",
        "job_cls",
        "scheduler_options",
        "cores",
        "memory",
        "processes",
        "disk",
        "python",
        "job_extra_directives",
        "worker_extra_args",
        "job_script_prologue",
        "job_extra",
        "extra",
        "env_extra",
        "header_skip",
    }
)
_POOL_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GPU_ARG: Final = re.compile(r"(^|[\s,])GPU=")


@dataclass(frozen=True)
class PoolConfig:
    """One worker type: every job of a pool gets the same resources (a jobqueue rule)."""

    name: str
    jobs: int = 1
    cores: int = 1
    memory: str = "2GB"
    processes: int = 1
    gpus: int = 0
    disk: str | None = None
    python: str | None = None
    job_extra_directives: Any = None  # mapping (HTCondor) or list of lines (SLURM)
    worker_extra_args: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    adaptive: bool = False  # keep `jobs` jobs: replace one the batch system ends (walltime)

    @property
    def workers(self) -> int:
        """Dask workers this pool adds: one per process per job."""
        return self.jobs * self.processes


@dataclass(frozen=True)
class EnvironmentConfig:
    """How the worker gets e2e-coffea: an image, a pip install, or an uploaded checkout."""

    image: str | None = None
    container_runtime: str = "apptainer"
    pip: tuple[str, ...] = ()
    upload_package: bool = False


@dataclass(frozen=True)
class ModelsConfig:
    """``path``: workers read the taggers where the client sees them (shared file system).
    ``upload``: the ONNX bytes travel in a worker plugin to ``worker_dir`` on every worker
    (absolute, or ``~/...`` expanded on each worker; by default a per-user folder)."""

    ship: str = "path"
    worker_dir: str = DEFAULT_WORKER_DIR


@dataclass(frozen=True)
class GatewayConfig:
    """A dask-gateway server, e.g. an analysis facility's JupyterHub-integrated one."""

    address: str | None = None
    proxy_address: str | None = None
    public_address: str | None = None
    auth: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterConfig:
    """A validated facility configuration (see ``facility/*.yaml``)."""

    facility: str
    pools: tuple[PoolConfig, ...] = ()
    device: str = "auto"
    address: str | None = None
    gateway: GatewayConfig | None = None
    scheduler_options: Mapping[str, Any] = field(default_factory=dict)
    environment: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    wait_timeout: float = 300.0
    min_workers: int | None = None
    source: str | None = None
    join_timeout: float = 120.0
    security: SecurityConfig | None = None

    @property
    def gpu_pools(self) -> tuple[PoolConfig, ...]:
        return tuple(p for p in self.pools if p.gpus > 0)

    @property
    def total_workers(self) -> int:
        return sum(p.workers for p in self.pools)

    def pool(self, name: str) -> PoolConfig:
        """The pool called ``name``; the error lists the ones there are."""
        for p in self.pools:
            if p.name == name:
                return p
        msg = (
            f"{self._where()}no worker type {name!r}; the config has {[p.name for p in self.pools]}"
        )
        raise ClusterConfigError(msg)

    def _where(self) -> str:
        return f"{self.source}: " if self.source else ""


# -- schema: key -> (accepted types, description for messages) -------------------------
_STR: Final = ((str,), "a string")
_INT: Final = ((int,), "an integer")
_NUM: Final = ((int, float), "a number")
_BOOL: Final = ((bool,), "true or false")
_MAP: Final = ((dict,), "a mapping")
_STRS: Final = ((list,), "a list of strings")
_TOP: Final = {
    "facility": _STR,
    "pools": _MAP,
    "device": _STR,
    "address": _STR,
    "gateway": _MAP,
    "scheduler_options": _MAP,
    "environment": _MAP,
    "models": _MAP,
    "wait_timeout": _NUM,
    "min_workers": _INT,
    "join_timeout": _NUM,
    "security": ((str, dict), "'temporary' or a mapping (temporary, ca_file, cert, key, ...)"),
}
_POOL: Final = {
    "jobs": _INT,
    "cores": _INT,
    "memory": _STR,
    "processes": _INT,
    "gpus": _INT,
    "disk": _STR,
    "python": _STR,
    "job_extra_directives": ((dict, list), "a mapping (htcondor) or a list (slurm)"),
    "worker_extra_args": _STRS,
    "job_script_prologue": _STRS,
    "options": _MAP,
    "adaptive": _BOOL,
}
_NULLABLE: Final = frozenset(
    {
        "address",
        "proxy_address",
        "public_address",
        "auth",
        "image",
        "disk",
        "python",
        "min_workers",
        "job_extra_directives",
        "security",
    }
)
_GATEWAY_POOL: Final = ("jobs", "gpus", "options")
_ENV: Final = {"image": _STR, "container_runtime": _STR, "pip": _STRS, "upload_package": _BOOL}
_MODELS: Final = {"ship": _STR, "worker_dir": _STR}
_GATEWAY: Final = {
    "address": _STR,
    "proxy_address": _STR,
    "public_address": _STR,
    "auth": _STR,
    "options": _MAP,
}


def load_cluster_config(path: str | os.PathLike[str]) -> ClusterConfig:
    """Read and validate a facility YAML file; nothing is started or submitted."""
    from ..io.yamlfiles import read_yaml

    p = Path(path)
    if not p.is_file():
        msg = (
            f"cluster config {p} does not exist; examples are in the repository's facility/ folder"
        )
        raise ClusterConfigError(msg)
    try:
        data = read_yaml(p, what="cluster config")
    except (MalformedInputError, OSError) as err:
        raise ClusterConfigError(str(err)) from err
    return parse_cluster_config(data, source=str(p))


def parse_cluster_config(data: Any, *, source: str | None = None) -> ClusterConfig:
    """Validate an already-parsed mapping (what the YAML file holds)."""
    where = f"{source}: " if source else ""
    top = _section(data, "top level", _TOP, where)
    facility = top.get("facility")
    if facility not in FACILITIES:
        msg = f"{where}facility must be one of {list(FACILITIES)}, got {facility!r}"
        raise ClusterConfigError(msg)
    device = top.get("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        msg = f"{where}device must be 'auto', 'cpu' or 'cuda', got {device!r}"
        raise ClusterConfigError(msg)
    pools = tuple(
        _pool(name, spec, facility, where) for name, spec in (top.get("pools") or {}).items()
    )
    env = EnvironmentConfig(
        **_listify(_section(top.get("environment", {}), "environment", _ENV, where))
    )
    if env.container_runtime not in ("apptainer", "singularity"):
        msg = (
            f"{where}environment.container_runtime must be apptainer or singularity (for docker "
            f"use HTCondor's docker universe in job_extra_directives), got {env.container_runtime!r}"
        )
        raise ClusterConfigError(msg)
    models = ModelsConfig(**_section(top.get("models", {}), "models", _MODELS, where))
    if models.ship not in ("path", "upload"):
        msg = f"{where}models.ship must be 'path' or 'upload', got {models.ship!r}"
        raise ClusterConfigError(msg)
    if not (os.path.isabs(models.worker_dir) or models.worker_dir.startswith("~/")):
        msg = f"{where}models.worker_dir must be an absolute path (or ~/...) on the workers, got {models.worker_dir!r}"
        raise ClusterConfigError(msg)
    gateway = None
    if "gateway" in top:
        gateway = GatewayConfig(**_section(top["gateway"], "gateway", _GATEWAY, where))
    wait = float(top.get("wait_timeout", 300.0))
    min_workers = top.get("min_workers")
    join = float(top.get("join_timeout", 120.0))
    if join <= 0:
        msg = f"{where}join_timeout must be > 0 seconds, got {join}"
        raise ClusterConfigError(msg)
    if wait < 0 or (min_workers is not None and min_workers < 0):
        msg = f"{where}wait_timeout and min_workers must be >= 0, got {wait} and {min_workers}"
        raise ClusterConfigError(msg)
    cfg = ClusterConfig(
        facility=facility,
        pools=pools,
        device=device,
        address=top.get("address"),
        gateway=gateway,
        scheduler_options=dict(top.get("scheduler_options", {})),
        environment=env,
        models=models,
        wait_timeout=wait,
        join_timeout=join,
        min_workers=min_workers,
        source=source,
        security=parse_security(top.get("security"), facility, where),
    )
    _check_facility(cfg, where)
    if device == "cuda":
        require_gpu(cfg)
    return cfg


def require_gpu(config: ClusterConfig) -> None:
    """Raise unless some worker type has a GPU; a ``scheduler`` config is checked on connect."""
    if config.facility == "scheduler" or config.gpu_pools:
        return
    msg = (
        f"{config._where()}a GPU was requested (device 'cuda' or --gpu-workers) but no worker "
        f"type of this {config.facility} config has one: pools "
        f"{ {p.name: p.gpus for p in config.pools} } (gpus per job); add a pool with gpus: 1"
    )
    raise ClusterConfigError(msg)


def _section(
    data: Any, name: str, schema: Mapping[str, tuple[tuple[type, ...], str]], where: str
) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        msg = f"{where}{name} must be a mapping, got {type(data).__name__}: {data!r}"
        raise ClusterConfigError(msg)
    for key, value in data.items():
        if key not in schema:
            msg = f"{where}unknown key {key!r} in {name}; valid keys: {sorted(schema)}"
            raise ClusterConfigError(msg)
        types, what = schema[key]
        if value is None and key in _NULLABLE:
            continue
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and types == (list,):
            ok = all(isinstance(v, str) for v in value)
        if not ok:
            msg = f"{where}{name}.{key} must be {what}, got {type(value).__name__}: {value!r}"
            raise ClusterConfigError(msg)
    return dict(data)


def _listify(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def _pool(name: Any, spec: Any, facility: str, where: str) -> PoolConfig:
    label = f"pools.{name}"
    if not isinstance(name, str) or not _POOL_NAME.match(name):
        msg = f"{where}pool name {name!r} must be a letter then letters, digits or _ (it names the workers)"
        raise ClusterConfigError(msg)
    schema = _POOL if facility != "gateway" else {k: _POOL[k] for k in _GATEWAY_POOL}
    d = _listify(_section(spec, label, schema, where))
    if isinstance(d.get("job_extra_directives"), tuple):
        d["job_extra_directives"] = list(d["job_extra_directives"])
    pool = PoolConfig(name=name, **d)
    for key in ("jobs", "cores", "processes"):
        if getattr(pool, key) < (0 if key == "jobs" else 1):
            msg = f"{where}{label}.{key} must be >= {0 if key == 'jobs' else 1}, got {getattr(pool, key)}"
            raise ClusterConfigError(msg)
    if pool.gpus not in (0, 1):
        msg = (
            f"{where}{label}.gpus must be 0 or 1 (one worker process and thread per GPU; "
            f"submit more jobs for more GPUs), got {pool.gpus}"
        )
        raise ClusterConfigError(msg)
    if pool.gpus and (pool.processes != 1 or pool.cores != 1) and facility != "gateway":
        msg = (
            f"{where}{label}: a GPU pool runs one process with one thread per GPU; got "
            f"processes={pool.processes}, cores={pool.cores} (set both to 1)"
        )
        raise ClusterConfigError(msg)
    if not pool.gpus and any(_GPU_ARG.search(a) for a in pool.worker_extra_args):
        msg = (
            f"{where}{label}.worker_extra_args tag the workers with a GPU resource but {label}.gpus "
            f"is 0: set gpus: 1 (which adds --resources GPU=1 and the batch system's GPU request)"
        )
        raise ClusterConfigError(msg)
    _check_bytes(pool.memory, f"{label}.memory", where)
    if pool.disk is not None:
        _check_bytes(pool.disk, f"{label}.disk", where)
    reserved = sorted(set(pool.options) & _RESERVED_OPTIONS)
    if reserved and facility != "gateway":
        msg = f"{where}{label}.options must not set {reserved}: use the pool key (or scheduler_options) instead"
        raise ClusterConfigError(msg)
    return pool


def _check_bytes(text: str, label: str, where: str) -> None:
    from dask.utils import parse_bytes

    try:
        parse_bytes(text)
    except ValueError as err:
        msg = f"{where}{label} must be a size such as '4GB', got {text!r}"
        raise ClusterConfigError(msg) from err


def _check_facility(cfg: ClusterConfig, where: str) -> None:
    """Rules that depend on the kind of facility."""
    f = cfg.facility
    if f == "scheduler":
        if not cfg.address or cfg.pools:
            msg = (
                f"{where}facility 'scheduler' joins a running scheduler: it needs 'address' "
                f"(got {cfg.address!r}) and no 'pools' (got {[p.name for p in cfg.pools]})"
            )
            raise ClusterConfigError(msg)
        return
    if cfg.address:
        msg = f"{where}'address' is only for facility 'scheduler' (this is {f!r})"
        raise ClusterConfigError(msg)
    if not cfg.pools:
        msg = f"{where}facility {f!r} needs at least one entry under 'pools'"
        raise ClusterConfigError(msg)
    if f == "gateway":
        if cfg.gateway is None or len(cfg.pools) != 1:
            msg = (
                f"{where}facility 'gateway' needs a 'gateway' section and exactly one pool "
                f"(a gateway cluster has one worker type; run CPU and GPU as separate runs), "
                f"got pools {[p.name for p in cfg.pools]}"
            )
            raise ClusterConfigError(msg)
        return
    if cfg.gateway is not None:
        msg = f"{where}'gateway' section is only for facility 'gateway' (this is {f!r})"
        raise ClusterConfigError(msg)
    if f == "coffea-casa" and len(cfg.pools) != 1:
        msg = (
            f"{where}facility 'coffea-casa' runs one worker type (its scheduler owns fixed ports), "
            f"got pools {[p.name for p in cfg.pools]}"
        )
        raise ClusterConfigError(msg)
    for p in cfg.pools:
        d = p.job_extra_directives
        want_list = f in _LIST_DIRECTIVES
        if d is not None and isinstance(d, list) != want_list:
            msg = (
                f"{where}pools.{p.name}.job_extra_directives must be a "
                f"{'list of lines' if want_list else 'mapping of submit keys'} for {f}, "
                f"got {type(d).__name__}"
            )
            raise ClusterConfigError(msg)
        if f in ("htcondor", "coffea-casa") and p.disk is None:
            msg = f"{where}pools.{p.name}.disk is required for {f} (e.g. '4GB')"
            raise ClusterConfigError(msg)
        if f == "local" and p.job_script_prologue:
            msg = (
                f"{where}pools.{p.name}.job_script_prologue cannot run under facility 'local' "
                f"(its jobs run the worker command without a shell)"
            )
            raise ClusterConfigError(msg)
