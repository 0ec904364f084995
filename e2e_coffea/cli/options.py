"""The vocabulary of the command line, declared once: a flag means one thing in every
subcommand, and the Python keyword it maps to has the flag's name.

:data:`MEANINGS` holds each shared flag's meaning; the option factories below start their
help with it and add only what one command does differently (its default, the values it
takes). ``tests/cli/test_vocabulary.py`` checks every subcommand against this table.

Old spellings of the unreleased 0.1.0 (``--step``, ``--dtype``, ``--frames-norm``,
train's and generate's ``--workers``, ``contract attach --scalars``) are gone: click
refuses them as it refuses any unknown option.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ..export.precision import MAX_AUC_DROP, PRECISIONS

__all__ = [
    "DEVICES",
    "INFERENCE_PRECISION",
    "MEANINGS",
    "branches_option",
    "chunksize_option",
    "device_option",
    "norm_option",
    "precision_option",
    "scalar_option",
    "torch_device",
    "workers_option",
]

F = TypeVar("F", bound=Callable[..., Any])

DEVICES = ("auto", "cpu", "cuda")
"""``--device`` everywhere: ``auto`` is CUDA when it is usable here, else the CPU."""

MEANINGS: dict[str, str] = {
    "--branches": "Branch profile (shipped name or YAML/JSON file) for ntuples that name "
    "branches differently.",
    "--chunksize": "Entries (events, or rows of a frames file) read per chunk.",
    "--device": "Where to compute: auto (CUDA when it is usable here, else the CPU), cpu or cuda.",
    "--norm": "Normalisation of the frames: a preset name, or none for raw values.",
    "--precision": f"Numeric precision ({', '.join(PRECISIONS)}; each command takes those it can).",
    "--scalar": "Per-object scalar input beside the frames: an event branch (MET_pt, nVtx) or "
    "an object quantity (pt, eta ...); repeatable, in the model's input order.",
    "--workers": "CPU workers of the run's executor: Dask workers (processes with --executor "
    "futures).",
}
"""Flag -> what it means in every subcommand that has it (the first words of its help)."""


def _help(flag: str, detail: str) -> str:
    return f"{MEANINGS[flag]} {detail}".strip()


branches_option = click.option(
    "--branches", "branches", default=None, metavar="PROFILE", help=_help("--branches", "")
)
"""``--branches PROFILE``."""


def chunksize_option(default: int | None, detail: str = "") -> Callable[[F], F]:
    """``--chunksize N``: entries per chunk, ``default`` when not given."""
    return click.option(
        "--chunksize",
        type=int,
        default=default,
        show_default=default is not None,
        help=_help("--chunksize", detail),
    )


def device_option(default: str, detail: str = "") -> Callable[[F], F]:
    """``--device {auto,cpu,cuda}``."""
    return click.option(
        "--device",
        type=click.Choice(DEVICES),
        default=default,
        show_default=True,
        help=_help("--device", detail),
    )


def torch_device(device: str) -> str:
    """``--device`` for torch (train, frames): ``auto`` is ``cuda`` where torch sees a GPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def norm_option(default: str, detail: str = "") -> Callable[[F], F]:
    """``--norm NAME``: the frames' normalisation (what each command does with it in
    ``detail``: apply it, or record it in the contract)."""
    return click.option("--norm", default=default, show_default=True, help=_help("--norm", detail))


def precision_option(
    choices: Sequence[str] = PRECISIONS, default: str = "fp32", detail: str = ""
) -> Callable[[F], F]:
    """``--precision`` with the values of :data:`~e2e_coffea.export.precision.PRECISIONS`
    that this command takes (train adds ``auto``)."""
    return click.option(
        "--precision",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help=_help("--precision", detail),
    )


INFERENCE_PRECISION = (
    "Of the model at inference: fp16 and int8 run only where the tagger's contract records a "
    f"held-out AUC drop <= {MAX_AUC_DROP} for them (e2e-coffea contract variants); bf16 is "
    "refused (onnxruntime's CPU provider has no bfloat16 kernels)."
)
"""``--precision`` of ``run``, ``triton-repo`` and ``contract variants``."""

scalar_option = click.option(
    "--scalar", "scalars", multiple=True, metavar="NAME", help=_help("--scalar", "")
)
"""``--scalar NAME`` (repeatable; the function parameter is ``scalars``)."""


def workers_option(default: int, detail: str = "") -> Callable[[F], F]:
    """``--workers N``: Dask workers, and nothing else."""
    return click.option(
        "--workers", type=int, default=default, show_default=True, help=_help("--workers", detail)
    )
