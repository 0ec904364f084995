"""The ``e2e-coffea`` command: one module per subcommand, one line per error.

Every error is one line, ``e2e-coffea <command>: error: <what and which value>``.
Exit codes: 2 for a bad argument or input (found before any work), 1 for a failure
while working (or an incomplete run), 130 for an interrupt. ``--debug`` prints the full
traceback instead, including a worker's.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from ..exceptions import BadInputError, ChannelError, ContractError, E2EError, SeedRangeError

__all__ = ["cli", "main"]

USAGE_ERRORS = (BadInputError, ChannelError, ContractError, SeedRangeError)
"""Errors that mean "you asked for something impossible": exit code 2, like a bad flag."""
DEBUG_ENV = "E2E_COFFEA_DEBUG"  # runner.worker_logs reads it


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="e2e-coffea")
@click.option(
    "--debug", is_flag=True, help="Show full tracebacks (workers' too) instead of one line."
)
def cli(debug: bool) -> None:
    """End-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

    Data flow: generate -> frames -> train/export -> run (inference + hists).
    """
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _register() -> None:
    from . import contract, doctor, facility, frames, generate, run, taggers, train, triton_repo

    for mod in (generate, frames, train, taggers, contract, run, triton_repo, doctor, facility):
        cli.add_command(mod.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: click does the parsing, we decide exit codes and the one-line messages."""
    _register()
    args = list(sys.argv[1:] if argv is None else argv)
    name = _command_name(args)
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="e2e-coffea", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as err:  # bare group: show help, like --help
        click.echo(err.ctx.get_help(), err=True)
        return 2
    except click.UsageError as err:
        cmd = err.ctx.command_path if err.ctx else name
        click.echo(f"{cmd}: error: {_one_line(err.format_message())}", err=True)
        return 2
    except click.exceptions.Exit as err:
        return int(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo(f"{name}: aborted", err=True)
        return 130
    except Exception as err:
        if debug:
            traceback.print_exception(err)
        code = 2 if isinstance(err, USAGE_ERRORS) else 1
        if isinstance(err, E2EError):
            click.echo(f"{name}: error: {_one_line(str(err))}", err=True)
        else:  # a bug or an unexpected library error: one line, the traceback with --debug
            hint = "" if debug else " (rerun with --debug for the traceback)"
            click.echo(
                f"{name}: error: internal error {type(err).__name__}: {_one_line(str(err))}{hint}",
                err=True,
            )
        return code
    finally:
        os.environ.pop(DEBUG_ENV, None)
    return code if isinstance(code, int) else 0


def _command_name(args: list[str]) -> str:
    """``e2e-coffea <subcommand>`` (``e2e-coffea contract attach`` for groups), for messages."""
    words = [a for a in args if not a.startswith("-")][:2]
    if not words or words[0] not in cli.commands:
        return "e2e-coffea"
    cmd = cli.commands[words[0]]
    if isinstance(cmd, click.Group) and len(words) > 1 and words[1] in cmd.commands:
        return f"e2e-coffea {words[0]} {words[1]}"
    return f"e2e-coffea {words[0]}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
