from __future__ import annotations

import json

import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.io import load_fileset, save_fileset
from e2e_coffea.io.fileset import fileset_entry


def test_round_trip_and_relative_paths(tmp_path):
    fs = {"tau": fileset_entry([tmp_path / "a.root"], "sparse", {"process": "tau"})}
    p = save_fileset(fs, tmp_path / "fs.json")
    assert load_fileset(p) == fs
    (tmp_path / "rel.json").write_text(json.dumps({"qcd": {"files": {"b.root": "Events"}}}))
    loaded = load_fileset(tmp_path / "rel.json")
    assert list(loaded["qcd"]["files"]) == [str(tmp_path / "b.root")]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must map dataset names"),
        ('{"x": {"files": {}}}', "must be a non-empty mapping"),
    ],
)
def test_bad_filesets(tmp_path, text, match):
    p = tmp_path / "fs.json"
    p.write_text(text)
    with pytest.raises(BadInputError, match=match):
        load_fileset(p)


def test_missing_fileset(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_fileset(tmp_path / "nope.json")
