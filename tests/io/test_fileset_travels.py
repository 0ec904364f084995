"""Samples travel: a generated fileset names its files relative to itself, so a sample
folder can be moved or shared and still runs; absolute paths and URLs keep working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import e2e_coffea
from e2e_coffea.io import load_fileset
from e2e_coffea.io.fileset import relative_fileset


def test_generated_filesets_hold_paths_relative_to_themselves(sample: Any) -> None:
    for name in ("fileset.json", "fileset.sparse.json", "fileset.e2e.json"):
        fs = json.loads((sample.root / name).read_text())
        files = [f for entry in fs.values() for f in entry["files"]]
        assert files, name
        assert all(not Path(f).is_absolute() for f in files), files
        assert all((sample.root / f).is_file() for f in files), files


def test_a_moved_sample_folder_still_runs(sample: Any, jet_tagger: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "my sample"
    shutil.copytree(sample.root, moved)
    fs = load_fileset(moved / "fileset.sparse.json")
    assert all(f.startswith(str(moved.resolve())) for e in fs.values() for f in e["files"])
    result = e2e_coffea.run(
        moved / "fileset.sparse.json", [str(jet_tagger)], device="cpu", chunksize=40,
        progress=False,
    )  # fmt: skip
    assert result.complete
    assert result.output["entries"] == {"qcd": 40, "tau": 40}


def test_absolute_paths_and_urls_still_work(tmp_path: Path) -> None:
    a = tmp_path / "data" / "a.root"
    raw = {"x": {"files": {str(a): "Events", "root://eos.example//b.root": "Events"}}}
    (tmp_path / "fs.json").write_text(json.dumps(raw))
    assert set(load_fileset(tmp_path / "fs.json")["x"]["files"]) == {
        str(a), "root://eos.example//b.root",
    }  # fmt: skip
    rel = relative_fileset(raw, tmp_path)
    assert set(rel["x"]["files"]) == {"data/a.root", "root://eos.example//b.root"}
    (tmp_path / "rel.json").write_text(json.dumps(rel))
    assert load_fileset(tmp_path / "rel.json") == load_fileset(tmp_path / "fs.json")
