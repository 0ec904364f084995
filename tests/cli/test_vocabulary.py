"""One vocabulary across the subcommands: a shared flag means the same thing everywhere,
is declared in ``cli/options.py``, and its Python name is the flag's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner

from e2e_coffea.cli import _register, cli, main
from e2e_coffea.cli import options as opts
from e2e_coffea.export.precision import PRECISIONS

OLD_SPELLINGS = ("--step", "--dtype", "--frames-norm", "--scalars", "--fp16")
"""Flags that once meant what a shared flag means now: hidden aliases at most."""


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
def test_old_spellings_are_hidden(name: str) -> None:
    shown = _shown(COMMANDS[name])
    assert not set(OLD_SPELLINGS) & set(shown), name
    if "--workers" in shown:  # Dask workers: only the commands that run on an executor
        assert name == "run"


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("train", "--step", "chunksize"),
        ("train", "--frames-norm", "norm"),
        ("train", "--workers", "loader_workers"),
        ("frames", "--step", "chunksize"),
        ("frames", "--dtype", "precision"),
        ("contract attach", "--scalars", "scalars"),
        ("generate", "--workers", "nproc"),
    ],
)
def test_every_renamed_flag_keeps_a_hidden_alias(name: str, old: str, new: str) -> None:
    cmd = COMMANDS[name]
    hidden = [p for p in cmd.params if isinstance(p, click.Option) and old in p.opts]
    assert len(hidden) == 1
    assert hidden[0].hidden
    assert not hidden[0].expose_value
    assert any(p.name == new for p in cmd.params)


def _probe() -> click.Command:
    @click.command("probe")
    @opts.chunksize_option(200)
    @opts.deprecated_alias("--step", "chunksize", value_type=int)
    @opts.scalar_option
    @opts.deprecated_alias("--scalars", "scalars", convert=lambda v: tuple(v.split(",")))
    def probe(chunksize: int, scalars: tuple[str, ...]) -> None:
        click.echo(f"{chunksize} {','.join(scalars)}")

    return probe


def test_an_alias_sets_the_new_option_and_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opts, "_warned", set())
    runner = CliRunner()
    first = runner.invoke(_probe(), ["--step", "7", "--scalars", "pt,eta"])
    assert first.exit_code == 0, first.output
    assert first.stdout == "7 pt,eta\n"
    assert "--step is deprecated; use --chunksize" in first.stderr
    assert "--scalars is deprecated; use --scalar" in first.stderr
    again = runner.invoke(_probe(), ["--step", "8"])
    assert (again.stdout, again.stderr) == ("8 \n", "")  # warned once per process
    # given both, the new spelling wins; neither, the default
    assert runner.invoke(_probe(), ["--step", "8", "--chunksize", "9"]).stdout == "9 \n"
    assert runner.invoke(_probe(), []).stdout == "200 \n"


def test_frames_dtype_alias_maps_to_precision(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--dtype float16`` reaches the converter as ``--precision fp16`` does."""
    import e2e_coffea.frames.convert as convert

    seen: list[dict[str, Any]] = []

    def fake(inputs: Any, out: Any, **kw: Any) -> Any:
        seen.append({k: v for k, v in kw.items() if k != "progress"})
        raise click.exceptions.Exit(0)

    monkeypatch.setattr(opts, "_warned", set())
    monkeypatch.setattr(convert, "convert_files", fake)
    base = ["frames", "x.root", "--layout", "sparse", "--preset", "qg", "--out", "o.npz"]
    assert main([*base, "--dtype", "float16", "--step", "5"]) == 0
    assert main([*base, "--precision", "fp16", "--chunksize", "5"]) == 0
    assert seen[0] == seen[1]
    assert (seen[0]["dtype"], seen[0]["step"]) == ("float16", 5)
    assert "--dtype is deprecated; use --precision" in capsys.readouterr().err


def test_train_flags_are_train_config_fields() -> None:
    """``e2e-coffea train --chunksize`` is ``TrainConfig.chunksize`` (and ``train_task``'s
    keyword): the CLI hands its options over by name."""
    from dataclasses import fields

    from e2e_coffea.train import TrainConfig

    given = {p.name for p in COMMANDS["train"].params if p.expose_value}
    by_name = given - {"model_name", "model_option"}  # positional / model_kwargs
    assert by_name <= {f.name for f in fields(TrainConfig)}
