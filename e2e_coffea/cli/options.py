"""Options several subcommands share, declared once so their names and help cannot drift."""

from __future__ import annotations

import click

__all__ = ["branches_option"]

branches_option = click.option(
    "--branches",
    "profile",
    default=None,
    metavar="PROFILE",
    help="Branch profile (shipped name or YAML/JSON file) for ntuples that name branches differently.",
)
"""``--branches PROFILE`` (the function parameter is ``profile``)."""
