"""The vocabulary of the command line, declared once: a flag means one thing in every
subcommand, and the Python keyword it maps to has the flag's name.

:data:`MEANINGS` holds each shared flag's meaning; the option factories below start their
help with it and add only what one command does differently (its default, the values it
takes). ``tests/cli/test_vocabulary.py`` checks every subcommand against this table.

Old spellings (``--step``, ``--dtype``, ``--frames-norm``, train's ``--workers``,
``contract attach --scalars``) still work as hidden aliases that print one deprecation
line; see :func:`deprecated_alias`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from ..export.precision import MAX_AUC_DROP, PRECISIONS

__all__ = [
    "DEVICES",
    "INFERENCE_PRECISION",
    "MEANINGS",
    "branches_option",
    "chunksize_option",
    "deprecated_alias",
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

_warned: set[str] = set()


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


def deprecated_alias(
    old: str,
    new: str,
    *,
    value_type: Any = None,
    convert: Callable[[Any], Any] | Mapping[Any, Any] | None = None,
    multiple: bool = False,
) -> Callable[[F], F]:
    """A hidden ``old`` flag that sets the option ``new`` (its parameter name) and prints
    ``warning: OLD is deprecated; use NEW`` once per process, so that scripts written
    for the old spelling keep working. ``convert`` maps the old value to the new one.
    Given together with ``new``, ``new`` wins."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or (multiple and not value):
            return
        if callable(convert):
            value = convert(value)
        elif convert is not None:
            value = convert[value]
        opt = next(p for p in ctx.command.params if p.name == new)
        flag = max(opt.opts, key=len)
        if old not in _warned:
            _warned.add(old)
            click.echo(f"{ctx.command_path}: warning: {old} is deprecated; use {flag}", err=True)
        # consumed like a default: an explicit NEW on the command line still wins
        ctx.default_map = {**(ctx.default_map or {}), new: value}

    return click.option(
        old,
        f"_deprecated_{old.lstrip('-').replace('-', '_')}",
        type=value_type,
        multiple=multiple,
        default=None,
        hidden=True,
        expose_value=False,
        is_eager=True,
        callback=callback,
    )
