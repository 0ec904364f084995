"""``--out`` is checked before any chunk runs, and a run's files are replaced as one set:
never a half-written set, never a stale file of an earlier run next to a new summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import OutputDirError, OutputWriteError
from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.processor.serialize import load_output
from e2e_coffea.runner.outputs import check_out_dir, write_run_outputs


def _argv(fileset: Path, tagger: Path, out: Path) -> list[str]:
    return [
        "run", "--fileset", str(fileset), "--tagger", str(tagger),
        "--chunksize", "15", "--device", "cpu", "--out", str(out),
    ]  # fmt: skip


def _unwritable() -> Path:
    """A folder nobody may create files in, root included (chmod would not stop root)."""
    ro = Path("/sys/kernel")
    assert ro.is_dir()
    return ro


@pytest.mark.parametrize("case", ["existing file", "file as parent", "read-only parent"])
def test_bad_out_exits_2_before_any_chunk(
    case: str,
    jet_tagger: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the fileset names a file that does not exist: had the files been opened first (let
    # alone a chunk run), the one line would name that file instead of --out
    missing = tmp_path / "missing.root"
    fileset = tmp_path / "fs.json"
    fileset.write_text(json.dumps({"tau": {"files": {str(missing): "Events"}, "metadata": {}}}))
    (tmp_path / "out.txt").write_text("keep me")
    out = {
        "existing file": tmp_path / "out.txt",
        "file as parent": tmp_path / "out.txt" / "sub" / "out",
        "read-only parent": _unwritable() / "new" / "e2e-out",
    }[case]
    code = main(_argv(fileset, jet_tagger, out))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert str(out) in err
    assert missing.name not in err
    assert "error" in err
    assert {"existing file": "existing file", "file as parent": "is a file",
            "read-only parent": "cannot write"}[case] in err  # fmt: skip
    assert (tmp_path / "out.txt").read_text() == "keep me"


def test_check_out_dir_accepts_new_and_existing_folders(tmp_path: Path) -> None:
    assert check_out_dir(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # checked, not created
    assert check_out_dir(tmp_path / "a" / "b" / "new") == tmp_path / "a" / "b" / "new"
    assert not (tmp_path / "a").exists()
    with pytest.raises(OutputDirError, match="does not exist"):
        check_out_dir(tmp_path / "a" / "b" / "new", create_parents=False)
    assert check_out_dir(tmp_path) == tmp_path
    assert os.listdir(tmp_path) == []  # the write probe cleaned up after itself
    with pytest.raises(OutputDirError, match="cannot write"):
        check_out_dir(_unwritable())


def _same_output(a: dict[str, Any], b: dict[str, Any], hists_equal: Any) -> None:
    assert hists_equal(a["hists"], b["hists"])
    for key in ("entries", "chunks", "cutflow", "notes", "metrics"):
        assert a[key] == b[key], key
    assert set(a["mean_images"]) == set(b["mean_images"])
    for name, mi in a["mean_images"].items():
        other = b["mean_images"][name]
        assert mi.channels == other.channels
        assert mi.counts == other.counts
        assert all(np.array_equal(mi.sums[k], other.sums[k]) for k in mi.sums)


def test_written_output_reads_back_as_the_run(
    clean: Any, jet_tagger: Path, eg_tagger: Path, tmp_path: Path, hists_equal: Any
) -> None:
    out = tmp_path / "runs" / "first"  # missing folders above --out are made
    specs = [resolve_tagger(jet_tagger), resolve_tagger(eg_tagger)]
    files = write_run_outputs(out, clean.output, summarize(clean, specs))
    assert set(files) == {"output.zip", "summary.json"}
    _same_output(load_output(out), clean.output, hists_equal)
    assert sorted(os.listdir(out)) == ["output.zip", "summary.json"]  # no staging left


def _old_run(out: Path) -> None:
    out.mkdir(exist_ok=True)
    for name, text in {
        "output.zip": "old", "output.pkl": "old", "summary.json": '{"old": true}',
        "roc.png": "old", "facility.json": "old", "notes.txt": "the user's own file",
    }.items():  # fmt: skip
        (out / name).write_text(text)


def test_rerun_into_old_out_leaves_no_stale_roc(
    sample: Any, eg_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The e/gamma tagger finds no photons or electrons in the tau/qcd sample: no AUC, so
    this run has no ROC, and the earlier run's roc.png must not stay behind."""
    out = tmp_path / "out"
    _old_run(out)
    assert main(_argv(sample.fileset["sparse"], eg_tagger, out)) == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["taggers"]["eg_simplenet"]["auc"] is None
    assert sorted(os.listdir(out)) == ["notes.txt", "output.zip", "summary.json"]
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert load_output(out)["entries"] == {"qcd": 40, "tau": 40}


@pytest.mark.parametrize("fails", ["summary", "roc plot"])
def test_a_failed_write_leaves_the_earlier_set_untouched(
    clean: Any, jet_tagger: Path, tmp_path: Path, fails: str
) -> None:
    _old_run(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    summary = summarize(clean, [resolve_tagger(jet_tagger)])

    def broken_plot(path: Path) -> None:
        path.write_bytes(b"half a png")
        msg = "disk full"
        raise OSError(msg)

    if fails == "summary":
        summary = {**summary, "bad": object()}  # json cannot write it
        with pytest.raises(OutputWriteError, match=r"TypeError.*unchanged"):
            write_run_outputs(tmp_path, clean.output, summary)
    else:
        with pytest.raises(OutputWriteError, match=r"disk full.*unchanged"):
            write_run_outputs(tmp_path, clean.output, summary, plot_roc=broken_plot)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
