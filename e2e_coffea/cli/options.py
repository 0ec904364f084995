"""Options several subcommands share, declared once so their names and help cannot drift."""

from __future__ import annotations

import click

from ..export.precision import MAX_AUC_DROP, PRECISIONS

__all__ = ["branches_option", "precision_option"]

branches_option = click.option(
    "--branches",
    "profile",
    default=None,
    metavar="PROFILE",
    help="Branch profile (shipped name or YAML/JSON file) for ntuples that name branches differently.",
)
"""``--branches PROFILE`` (the function parameter is ``profile``)."""

precision_option = click.option(
    "--precision",
    type=click.Choice(list(PRECISIONS)),
    default="fp32",
    show_default=True,
    help="Model precision. fp16 and int8 run only where the tagger's contract records a "
    f"held-out AUC drop <= {MAX_AUC_DROP} for them (e2e-coffea contract variants); bf16 is refused "
    "(onnxruntime's CPU provider has no bfloat16 kernels).",
)
"""``--precision {fp32,fp16,bf16,int8}`` for ``run``, ``triton-repo`` and ``contract variants``."""
