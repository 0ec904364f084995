"""``e2e-coffea facility check CONFIG``: the first thing to run at a new facility."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.group("facility")
def command() -> None:
    """Check a facility config before a real run."""


@command.command("check")
@click.argument("config", type=click.Path(path_type=Path))
def check(config: Path) -> None:
    """Submit one probe job per pool; report the workers, their software, and one score.

    Exit code 1 when any problem is found (each printed with its fix)."""
    from ..facility import load_cluster_config
    from ..facility.check import check_facility

    report = check_facility(load_cluster_config(config))
    for line in report.lines:
        click.echo(line)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    if report.problems:
        raise click.exceptions.Exit(1)
    click.echo(f"{config}: ready")
