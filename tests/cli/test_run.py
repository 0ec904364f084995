"""``e2e-coffea run``: what it writes, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.cli import main
from e2e_coffea.processor.serialize import load_output


def test_run_writes_output_summary_and_roc(
    sample: Any,
    jet_tagger: Path,
    tmp_path: Path,
    hists_equal: Any,
    clean: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--fileset",
            str(sample.fileset["sparse"]),
            "--tagger",
            str(jet_tagger),
            "--executor",
            "iterative",
            "--chunksize",
            "15",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    output = load_output(out)
    assert output["entries"] == {"qcd": 40, "tau": 40}
    h, ref = output["hists"]["score"], clean.output["hists"]["score"][{"tagger": "jet_simplenet"}]
    assert h.sum().value == ref.sum().value > 0
    summary = json.loads(
        (out / "summary.json").read_text(),
        parse_constant=lambda c: pytest.fail(f"summary.json holds {c}"),
    )
    assert {"taggers", "entries", "failed", "throughput", "devices"} <= set(summary)
    assert summary["entries"] == {"processed": 80, "expected": 80}
    assert summary["failed"] == []
    assert {"signal", "background", "auc", "auc_err", "n_jets"} <= set(
        summary["taggers"]["jet_simplenet"]
    )
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "entries 80/80" in captured.out
    assert "jet_simplenet: AUC" in captured.out
    # the physical headline beside it, in the console and in summary.json
    entry = summary["taggers"]["jet_simplenet"]
    assert entry["auc_headline"] == entry["physical"]["auc_headline"] is not None
    assert f"headline AUC {entry['auc_headline']:.4f}" in captured.out
    assert f"unweighted AUC {entry['auc_unweighted']:.4f}" in captured.out
    assert summary["warnings"] == []  # a test tagger without conditions: nothing to compare


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tagger", "no_such_tagger"], "no_such_tagger"),
        (["--tagger", "{model}", "--executor", "spark"], "spark"),
        (["--tagger", "{model}", "--workers", "-1"], "workers"),
        (["--tagger", "{model}", "--retries", "-2"], "retries"),
        (["--tagger", "{model}", "--executor", "iterative", "--gpu-workers", "1"], "gpu_workers"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    sample: Any,
    jet_tagger: Path,
    tmp_path: Path,
    args: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", "--fileset", str(sample.fileset["sparse"]), "--out", str(tmp_path / "out")]
    argv += [a.replace("{model}", str(jet_tagger)) for a in args]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "error" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_missing_fileset_exits_2(
    jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "--fileset",
            str(tmp_path / "nope.json"),
            "--tagger",
            str(jet_tagger),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "nope.json" in err
