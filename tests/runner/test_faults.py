"""Faults that used to give wrong results with exit code 0, or tracebacks instead of a line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.cli import main
from e2e_coffea.exceptions import BadInputError, RunFailedError
from e2e_coffea.io import write_sparse
from e2e_coffea.io.fileset import FilesetWarning, load_fileset
from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES, SPARSE_TREE
from e2e_coffea.runner import run

CHUNKSIZE = 15


def _poisoned(src: Path, dst: Path, *, event: int, field: str, value: float) -> Path:
    """A copy of a sparse file with every EcalHit value of ``event`` set to ``value``."""
    with uproot.open(src) as f:
        flat = f[SPARSE_TREE].arrays()
    chunk: dict[str, Any] = {}
    for coll, fields in SPARSE_COLLECTIONS.items():
        cols = {k: flat[f"{coll}_{k}"] for k in fields}
        if coll == "EcalHit":
            vals = ak.to_list(cols[field])
            vals[event] = [value] * len(vals[event])
            cols[field] = ak.values_astype(
                ak.Array(vals), ak.to_numpy(ak.flatten(cols[field])).dtype
            )
        chunk[coll] = ak.zip(cols)
    chunk["event"] = ak.zip({b: flat[b] for b in SPARSE_EVENT_BRANCHES})
    write_sparse(dst, chunk)
    return dst


def _event_with_a_jet(path: Path, first: int = 10) -> int:
    """The first event from ``first`` on with a jet the default cuts select."""
    with uproot.open(path) as f:
        t = f[SPARSE_TREE].arrays(["Jet_pt", "Jet_eta", "Jet_seedIeta", "nEcalHit"])
    for e in range(first, len(t)):
        ok = (
            (t["Jet_pt"][e] > 20)
            & (abs(t["Jet_eta"][e]) < 2.4)
            & (t["Jet_seedIeta"][e] >= 12)
            & (t["Jet_seedIeta"][e] <= 43)
        )
        if ak.any(ok) and t["nEcalHit"][e] > 0:
            return e
    raise AssertionError("no event with a selected jet")


def _fs(path: Path, datasets: dict[str, Any]) -> Path:
    path.write_text(json.dumps(datasets, ensure_ascii=False), encoding="utf-8")
    return path


def test_same_file_twice_is_processed_once(
    sample: Any, jet_tagger: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    src = sample.files[("tau", "sparse")]
    local = tmp_path / "tau.root"
    shutil.copy(src, local)
    monkeypatch.chdir(tmp_path)
    fs = _fs(tmp_path / "fs.json", {"tau": {"files": {"tau.root": "Events", str(local): "Events"}}})
    with pytest.warns(FilesetWarning, match="listed twice"):
        result = run(fs, [jet_tagger], device="cpu", progress=False)
    assert result.complete
    assert result.processed == 40


def test_a_file_in_two_datasets_is_refused(sample: Any, jet_tagger: Path, tmp_path: Path) -> None:
    f = str(sample.files[("tau", "sparse")])
    fs = _fs(tmp_path / "fs.json", {"a": {"files": {f: "Events"}}, "b": {"files": {f: "Events"}}})
    with pytest.raises(BadInputError, match=r"is in datasets 'a' and 'b'"):
        run(fs, [jet_tagger], device="cpu", progress=False)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            {"tau": {"files": {"x.root": "Events"}, "metadata": [1, 2]}},
            r"'metadata' must be a mapping, got list",
        ),
        ({"tau": {"files": {}}}, r"'files' must be a non-empty mapping"),
        ({"tau": {"files": {"x.root": "Events"}, "meta": {}}}, r"unknown key\(s\) \['meta'\]"),
        ({"tau": {"files": {"x.root": 3}}}, r"trees must be strings"),
        ([], r"must map dataset names to entries"),
    ],
)
def test_bad_filesets_get_one_line(tmp_path: Path, content: Any, match: str, capsys: Any) -> None:
    fs = _fs(tmp_path / "fs.json", content)
    with pytest.raises(BadInputError, match=match):
        load_fileset(fs)
    assert (
        main(
            ["run", "--fileset", str(fs), "--tagger", "tau_simplenet", "--out", str(tmp_path / "o")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert str(fs) in err


def test_fileset_given_a_directory(tmp_path: Path, capsys: Any) -> None:
    assert (
        main(
            [
                "run",
                "--fileset",
                str(tmp_path),
                "--tagger",
                "tau_simplenet",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "is a directory; give the fileset JSON file" in capsys.readouterr().err


def test_list_form_of_files(sample: Any, jet_tagger: Path, tmp_path: Path) -> None:
    fs = _fs(tmp_path / "fs.json", {"tau": {"files": [str(sample.files[("tau", "sparse")])]},
                                    "qcd": [str(sample.files[("qcd", "e2e")])]})  # fmt: skip
    loaded = load_fileset(fs)
    assert list(loaded["tau"]["files"].values()) == ["Events"]
    assert list(loaded["qcd"]["files"].values()) == ["fevt/RHTree"]  # found in the file
    result = run(fs, [jet_tagger], device="cpu", progress=False)
    assert result.complete
    assert result.processed == 80


@pytest.mark.parametrize("kind", ["text", "empty"])
def test_text_and_empty_root_files_are_named(
    sample: Any, jet_tagger: Path, tmp_path: Path, kind: str, capsys: Any
) -> None:
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"" if kind == "empty" else b"this is not ROOT\n")
    fs = _fs(tmp_path / "fs.json", {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}},
                                    "qcd": {"files": {str(bad): "Events"}}})  # fmt: skip
    code = main(
        [
            "run",
            "--fileset",
            str(fs),
            "--tagger",
            str(jet_tagger),
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2  # a bad input, found before any chunk runs
    want = (
        "empty file (0 bytes), not a ROOT file"
        if kind == "empty"
        else "not a ROOT file (it starts with b'this'"
    )
    assert want in err
    assert "Chunk of length" not in err
    assert (
        main(
            [
                "frames",
                str(bad),
                "--layout",
                "sparse",
                "--preset",
                "qg",
                "--out",
                str(tmp_path / "f.npz"),
            ]
        )
        == 2
    )
    assert want in capsys.readouterr().err


@pytest.mark.parametrize("executor", ["iterative", "futures", "dask"])
@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("energy", np.nan, "non-finite pixel"), ("row", 9999, "outside the 280x360 grid")],
)
def test_skip_bad_files_skips_chunks_with_bad_hits(
    sample: Any,
    jet_tagger: Path,
    tmp_path: Path,
    executor: str,
    field: str,
    value: float,
    reason: str,
) -> None:
    src = sample.files[("qcd", "sparse")]
    e = _event_with_a_jet(src)
    bad = _poisoned(src, tmp_path / "qcd.root", event=e, field=field, value=value)
    fs = {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}, "metadata": {}},
          "qcd": {"files": {str(bad): "Events"}, "metadata": {}}}  # fmt: skip
    result = run(fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False, skip_bad_files=True,
                 executor=executor, workers=2)  # fmt: skip
    (failure,) = result.failed
    assert failure.file == str(bad)
    assert failure.entry_start <= e < failure.entry_stop  # the chunk holding the bad event
    assert reason in failure.reason
    assert f"entry {e}" in failure.reason  # the file's entry number, not the chunk's
    assert result.processed + (failure.entry_stop - failure.entry_start) == sum(
        result.expected.values()
    )
    assert not result.complete
    with pytest.raises(RunFailedError, match=rf"file {bad}, entries \d+-\d+: .*entry {e}"):
        run(
            fs,
            [jet_tagger],
            chunksize=CHUNKSIZE,
            device="cpu",
            progress=False,
            executor=executor,
            workers=2,
        )


@pytest.mark.parametrize("step", [5, 7, 40])
def test_bad_hit_messages_name_the_file_entry(
    sample: Any, tmp_path: Path, step: int, capsys: Any
) -> None:
    bad = _poisoned(
        sample.files[("qcd", "sparse")], tmp_path / "qcd.root", event=13, field="row", value=9999
    )
    args = [
        "frames",
        str(bad),
        "--layout",
        "sparse",
        "--preset",
        "qg",
        "--chunksize",
        str(step),
        "--out",
        str(tmp_path / "f.npz"),
    ]
    assert main(args) == 2
    assert "EcalHit hit 0 of entry 13 sits at (row=9999" in capsys.readouterr().err


def test_a_lost_dataset_gives_no_auc_and_a_failing_exit(
    sample: Any, jet_tagger: Path, tmp_path: Path, capsys: Any
) -> None:
    bad = tmp_path / "qcd.root"
    bad.write_bytes(b"junk")
    fs = _fs(tmp_path / "fs.json", {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}},
                                    "qcd": {"files": {str(bad): "Events"}}})  # fmt: skip
    out = tmp_path / "run"
    base = [
        "run",
        "--fileset",
        str(fs),
        "--tagger",
        str(jet_tagger),
        "--device",
        "cpu",
        "--skip-bad-files",
    ]
    assert main([*base, "--out", str(out)]) == 1  # incomplete: non-zero without --allow-incomplete
    assert (
        "incomplete run: 40 of 40 entries processed, 1 range(s) failed; dataset(s) ['qcd'] lost"
        in capsys.readouterr().err
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False
    assert summary["lost_datasets"] == ["qcd"]
    t = summary["taggers"]["jet_simplenet"]
    assert t["auc"] is None  # not the tau sample's own non-tau jets as background
    assert "dataset(s) ['qcd'] were lost" in t["note"]
    assert main([*base, "--allow-incomplete", "--out", str(tmp_path / "run2")]) == 0


def test_non_ascii_paths_and_dataset_names(
    sample: Any, jet_tagger: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    folder = tmp_path / "ünï cödé"
    folder.mkdir()
    shutil.copy(sample.files[("tau", "sparse")], folder / "tàu.root")
    shutil.copy(sample.files[("qcd", "sparse")], folder / "qcd.root")
    fs = _fs(
        folder / "fïleset.json",
        {"tàu-ß": {"files": {"tàu.root": "Events"}}, "qcd": {"files": {"qcd.root": "Events"}}},
    )
    monkeypatch.setenv("LC_ALL", "C")  # an ASCII locale, as in many batch jobs
    for executor in ("iterative", "futures", "dask"):
        out = folder / f"rés-{executor}"
        args = ["run", "--fileset", str(fs), "--tagger", str(jet_tagger), "--device", "cpu",
                "--executor", executor, "--workers", "2", "--out", str(out)]  # fmt: skip
        assert main(args) == 0, executor
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["complete"] is True
        assert summary["taggers"]["jet_simplenet"]["signal"] == ["tàu-ß"]


def test_frames_command_names_truncated_files_and_bad_outputs(
    sample: Any, tmp_path: Path, capsys: Any
) -> None:
    src = sample.files[("qcd", "sparse")]
    trunc = tmp_path / "trunc.root"
    trunc.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.3)])
    args = ["frames", "--layout", "sparse", "--preset", "qg"]
    assert main([*args, str(trunc), "--out", str(tmp_path / "f.npz")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{trunc}: " in err
    assert "cannot be read" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([*args, str(src), "--out", str(blocker / "f.npz")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert main([*args, str(src), "--out", str(tmp_path)]) == 2  # a folder
    assert not list(tmp_path.glob("*.npz"))  # nothing half-written
