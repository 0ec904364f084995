"""``e2e_coffea.run``: the CLI's job from Python, with the same keywords, files and summary."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import click
import pytest

import e2e_coffea
from e2e_coffea.cli import main
from e2e_coffea.cli.run import command as run_command
from e2e_coffea.processor.serialize import load_output

TIMED = ("throughput", "timing", "workers")
"""summary.json keys that measure this run's wall time or name its processes."""


def _flags() -> dict[str, click.Option]:
    """Python name each ``e2e-coffea run`` option should have -> the option."""
    out = {}
    for p in run_command.params:
        if isinstance(p, click.Option):
            flag = max(p.opts, key=len).lstrip("-").replace("-", "_")
            out["taggers" if flag == "tagger" else flag] = p
    return out


def test_run_has_the_cli_flags_as_keywords_with_the_same_defaults() -> None:
    sig = inspect.signature(e2e_coffea.run)
    kinds = {p.kind for p in sig.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds
    assert inspect.Parameter.VAR_POSITIONAL not in kinds
    missing = sorted(set(_flags()) - set(sig.parameters))
    assert not missing, f"e2e_coffea.run lacks the CLI flags {missing}"
    for name, opt in _flags().items():
        if opt.required:
            continue
        want = opt.default is True if opt.is_flag else opt.default  # click: a sentinel, unset
        assert sig.parameters[name].default == want, name


def _summary(path: Path) -> dict[str, Any]:
    s = json.loads((path / "summary.json").read_text())
    return {k: v for k, v in s.items() if k not in TIMED}


def test_python_and_cli_write_the_same_files(
    sample: Any, jet_tagger: Path, tmp_path: Path, hists_equal: Any
) -> None:
    fs = sample.fileset["sparse"]
    cli_out, py_out, later = tmp_path / "cli", tmp_path / "py", tmp_path / "later"
    args = ["--chunksize", "15", "--device", "cpu", "--lumi", "2.5"]
    assert main(["run", "--fileset", str(fs), "--tagger", str(jet_tagger), *args,
                 "--out", str(cli_out)]) == 0  # fmt: skip
    result = e2e_coffea.run(
        fs, [str(jet_tagger)], out=py_out, chunksize=15, device="cpu", lumi=2.5, progress=False
    )
    names = sorted(p.name for p in cli_out.iterdir())
    assert names == sorted(p.name for p in py_out.iterdir()) == [
        "output.zip", "roc.png", "summary.json",
    ]  # fmt: skip
    assert hists_equal(load_output(cli_out)["hists"], load_output(py_out)["hists"])
    assert _summary(cli_out) == _summary(py_out)
    assert result.summary()["taggers"] == _summary(py_out)["taggers"]
    assert result.written == {n: py_out / n for n in ("output.zip", "roc.png", "summary.json")}
    # the result writes itself again, the same set, wherever it is asked to
    assert set(result.write(later)) == {"output.zip", "roc.png", "summary.json"}
    assert _summary(later) == _summary(py_out)
    assert hists_equal(load_output(later)["hists"], load_output(py_out)["hists"])


def test_run_without_out_writes_nothing_and_refuses_an_incomplete_run(
    sample: Any, jet_tagger: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "qcd.root"
    bad.write_bytes(b"junk")
    fs = {
        "tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}},
        "qcd": {"files": {str(bad): "Events"}},
    }
    with pytest.raises(e2e_coffea.IncompleteRunError, match="allow_incomplete") as err:
        e2e_coffea.run(fs, [str(jet_tagger)], device="cpu", skip_bad_files=True, progress=False)
    assert err.value.report.lost_datasets() == ["qcd"]
    assert err.value.report.written == {}
    partial = e2e_coffea.run(
        fs, [str(jet_tagger)], device="cpu", skip_bad_files=True, allow_incomplete=True,
        progress=False,
    )  # fmt: skip
    assert not partial.complete
    assert partial.summary()["lost_datasets"] == ["qcd"]
    assert list(tmp_path.iterdir()) == [bad]
