from __future__ import annotations

import pytest

from e2e_coffea.cli import main


@pytest.mark.parametrize("sub", ["generate", "frames", "train", "taggers", "run"])
def test_every_subcommand_has_help(sub, capsys):
    assert main([sub, "--help"]) == 0
    assert "Usage: e2e-coffea" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ["generate", "--process", "higgs", "--events", "5", "--out", "{tmp}/o"],
            "unknown process 'higgs'",
        ),
        (
            ["generate", "--process", "tau", "--events", "0", "--out", "{tmp}/o"],
            "--events must be positive",
        ),
        (
            ["generate", "--process", "tau", "--events", "5", "--seed", "-1", "--out", "{tmp}/o"],
            "--seed must be in",
        ),
        (
            [
                "generate",
                "--process",
                "tau",
                "--events",
                "5",
                "--seed",
                "900000001",
                "--out",
                "{tmp}/o",
            ],
            "--seed must be in",
        ),
        (["generate", "--process", "tau", "--events", "5", "--out", "/proc/nope"], "not writable"),
        (
            ["generate", "--process", "tau", "--events", "x", "--out", "{tmp}/o"],
            "not a valid integer",
        ),
        (["generate", "--events", "5", "--out", "{tmp}/o"], "Missing option '--process'"),
        (
            ["frames", "{tmp}/x.root", "--layout", "sparse", "--out", "{tmp}/f.npz"],
            "exactly one of --preset and --channels",
        ),
        (
            ["train", "--task", "higgs", "--model", "simplenet", "--fileset", "{tmp}/fs.json"],
            "unknown task 'higgs'",
        ),
        (
            ["train", "--task", "tau", "--model", "alexnet", "--fileset", "{tmp}/fs.json"],
            "unknown model 'alexnet'",
        ),
        (
            ["run", "--fileset", "{tmp}/fs.json", "--tagger", "nope_tagger", "--out", "{tmp}/o"],
            "unknown tagger 'nope_tagger'",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, match):
    rc = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert match in err
    assert not (tmp_path / "o").exists()  # nothing written on a bad request
