"""Data-parallel training: who am I (rank), starting N local processes, and torchrun.

:func:`~e2e_coffea.train.fit` wraps the model in ``DistributedDataParallel`` when a process group is up;
each process reads its own share of the data and the gradients are averaged, so N
processes with a per-process batch of B/N follow one process with batch B. The group
comes either from :func:`spawn` (``e2e-coffea train --nproc N``: one machine, a free
local port) or from ``torchrun``'s environment (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``..., :func:`init_from_env`), which also covers several machines.
Backends: gloo on the CPU, nccl on CUDA.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ...exceptions import BadInputError, E2EError, TrainingError

GROUP_TIMEOUT = datetime.timedelta(hours=2)
"""How long a rank waits for the others (torch's default is 10-30 minutes)."""

__all__ = [
    "GROUP_TIMEOUT",
    "Rank",
    "backend_for",
    "broadcast_object",
    "init_from_env",
    "rank_info",
    "spawn",
]


@dataclass(frozen=True)
class Rank:
    """This process's place in the group: ``rank`` of ``world``, ``local`` on its machine."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def rank_info() -> Rank:
    """The rank of this process (0 of 1 without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Rank()
    return Rank(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def backend_for(device_type: str) -> str:
    return "nccl" if device_type == "cuda" else "gloo"


def init_from_env(device_type: str) -> bool:
    """Join the process group torchrun describes in the environment; False when there is
    none (a plain single process) or the group is already up."""
    if dist.is_initialized() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        msg = f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but {missing} are not set; start with torchrun"
        raise BadInputError(msg)
    if device_type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    # rank 0 indexes the sample and validates while the others wait: allow hours, not minutes
    dist.init_process_group(backend_for(device_type), init_method="env://", timeout=GROUP_TIMEOUT)
    return True


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (the object itself without a process group)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child(
    rank: int,
    fn: Callable[..., Any],
    nproc: int,
    port: int,
    device_type: str,
    kwargs: dict[str, Any],
    result: str,
) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    init_from_env(device_type)
    try:
        out = fn(**kwargs)
        if rank == 0:
            Path(result).write_text(json.dumps(out, default=str))
    except E2EError as err:  # the parent re-raises it as what it is, in one line
        kind = "usage" if isinstance(err, BadInputError) else "failure"
        Path(f"{result}.rank{rank}.error").write_text(json.dumps([kind, str(err)]))
        raise
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable[..., Any], nproc: int, device_type: str, **kwargs: Any) -> Any:
    """Run ``fn(**kwargs)`` in ``nproc`` fresh processes joined in one group on this
    machine; returns rank 0's (JSON-able) result. An error in any process is raised here."""
    if nproc < 1:
        msg = f"nproc must be >= 1, got {nproc}"
        raise BadInputError(msg)
    if device_type == "cuda" and nproc > torch.cuda.device_count():
        msg = f"nproc {nproc} exceeds the {torch.cuda.device_count()} visible GPU(s)"
        raise BadInputError(msg)
    from torch.multiprocessing.spawn import (
        ProcessExitedException,
        ProcessRaisedException,
        start_processes,
    )

    with tempfile.TemporaryDirectory(prefix="e2e-ddp-") as tmp:
        result = str(Path(tmp) / "rank0.json")
        args = (fn, nproc, _free_port(), device_type, kwargs, result)
        try:
            start_processes(_child, args=args, nprocs=nproc, join=True, start_method="spawn")  # type: ignore[no-untyped-call]
        except (ProcessRaisedException, ProcessExitedException) as err:
            for path in sorted(Path(tmp).glob("rank0.json.rank*.error")):
                kind, text = json.loads(path.read_text())
                msg = f"{path.name.split('.')[-2]}: {text}"
                raise (BadInputError if kind == "usage" else TrainingError)(msg) from err
            msg = f"a data-parallel process failed: {' '.join(str(err).split())[-300:]}"
            raise TrainingError(msg) from err
        return json.loads(Path(result).read_text())
