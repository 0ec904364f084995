"""The ``e2e-coffea`` command: one module per subcommand, one line per error."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..exceptions import BadInputError, ChannelError, ContractError, E2EError, SeedRangeError

__all__ = ["cli", "main"]

USAGE_ERRORS = (BadInputError, ChannelError, ContractError, SeedRangeError)
"""Errors that mean "you asked for something impossible": exit code 2, like a bad flag."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="e2e-coffea")
def cli() -> None:
    """End-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

    Data flow: generate -> frames -> train/export -> run (inference + hists).
    """


def _register() -> None:
    from . import contract, doctor, frames, generate, run, taggers, train, triton_repo

    for mod in (generate, frames, train, taggers, contract, run, triton_repo, doctor):
        cli.add_command(mod.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: click does the parsing, we decide exit codes and the one-line messages."""
    _register()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="e2e-coffea", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as err:  # bare group: show help, like --help
        click.echo(err.ctx.get_help() if err.ctx else "", err=True)
        return 2
    except click.UsageError as err:
        cmd = err.ctx.command_path if err.ctx else "e2e-coffea"
        click.echo(f"{cmd}: error: {err.format_message()}", err=True)
        return 2
    except click.Abort:
        click.echo("e2e-coffea: aborted", err=True)
        return 130
    except USAGE_ERRORS as err:
        click.echo(f"e2e-coffea: error: {_one_line(err)}", err=True)
        return 2
    except E2EError as err:
        click.echo(f"e2e-coffea: failed: {_one_line(err)}", err=True)
        return 1
    return 0


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())
