"""One vocabulary across the subcommands: a shared flag means the same thing everywhere,
is declared in ``cli/options.py``, and its Python name is the flag's."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from e2e_coffea.cli import _register, cli, main
from e2e_coffea.cli import options as opts
from e2e_coffea.export.precision import PRECISIONS

OLD_SPELLINGS = ("--step", "--dtype", "--frames-norm", "--scalars", "--fp16")
"""Flags that once meant what a shared flag means now: no command has them."""


def _commands() -> Iterator[tuple[str, click.Command]]:
    _register()
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            for sub, subcmd in cmd.commands.items():
                yield f"{name} {sub}", subcmd
        else:
            yield name, cmd


def _shown(cmd: click.Command) -> dict[str, click.Option]:
    """Visible option flag -> option."""
    return {
        flag: p
        for p in cmd.params
        if isinstance(p, click.Option) and not p.hidden
        for flag in p.opts
    }


COMMANDS = dict(_commands())


def test_the_commands_are_found() -> None:
    assert {"run", "train", "frames", "doctor", "contract attach", "triton-repo"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_shared_flags_mean_one_thing(name: str) -> None:
    for flag, opt in _shown(COMMANDS[name]).items():
        if flag not in opts.MEANINGS:
            continue
        where = f"{name} {flag}"
        assert opt.help is not None, where
        assert opt.help.startswith(opts.MEANINGS[flag]), where
        # the Python name is the flag's (plural for a repeatable one)
        assert opt.name == flag.lstrip("-").replace("-", "_") + ("s" if opt.multiple else ""), where
        if flag == "--device":
            assert isinstance(opt.type, click.Choice), where
            assert tuple(opt.type.choices) == opts.DEVICES, where
        elif flag == "--precision":
            assert isinstance(opt.type, click.Choice), where
            assert set(opt.type.choices) <= {*PRECISIONS, "auto"}, where
        elif flag in ("--chunksize", "--workers"):
            assert opt.type is click.INT, where
        else:
            assert opt.type is click.STRING, where


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_old_spellings_are_gone(name: str) -> None:
    every = {flag for p in COMMANDS[name].params for flag in getattr(p, "opts", [])}
    assert not set(OLD_SPELLINGS) & every, name  # not even as hidden aliases
    shown = _shown(COMMANDS[name])
    if "--workers" in shown:  # Dask workers: only the commands that run on an executor
        assert name == "run"


@pytest.mark.parametrize(
    ("name", "old"),
    [
        ("train", "--step"),
        ("train", "--frames-norm"),
        ("train", "--workers"),
        ("train", "--fp16"),
        ("frames", "--step"),
        ("frames", "--dtype"),
        ("contract attach", "--scalars"),
        ("generate", "--workers"),
    ],
)
def test_old_spellings_are_bad_arguments(
    name: str, old: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unreleased 0.1.0's spellings are gone, not aliased: one line, exit code 2."""
    assert not any(old in p.opts for p in COMMANDS[name].params)
    assert main([*name.split(), old, "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"No such option '{old}'" in err


def test_train_flags_are_train_config_fields() -> None:
    """``e2e-coffea train --chunksize`` is ``TrainConfig.chunksize`` (and ``train_task``'s
    keyword): the CLI hands its options over by name."""
    from dataclasses import fields

    from e2e_coffea.train import TrainConfig

    given = {p.name for p in COMMANDS["train"].params if p.expose_value}
    by_name = given - {"model_name", "model_option"}  # positional / model_kwargs
    assert by_name <= {f.name for f in fields(TrainConfig)}
