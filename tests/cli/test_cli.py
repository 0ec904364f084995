from __future__ import annotations

import pytest

from e2e_coffea.cli import main


@pytest.mark.parametrize(
    "sub", ["generate", "frames", "train", "taggers", "contract", "run", "triton-repo"]
)
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
    assert err.startswith(f"e2e-coffea {args[0]}: error: "), err  # one prefix everywhere
    assert not (tmp_path / "o").exists()  # nothing written on a bad request


@pytest.mark.parametrize(
    "args",
    [
        [
            "frames",
            "{tmp}/missing.root",
            "--layout",
            "sparse",
            "--preset",
            "qg",
            "--out",
            "{tmp}/f.npz",
        ],
        ["run", "--fileset", "{tmp}/missing.json", "--tagger", "tau_simplenet", "--out", "{tmp}/o"],
        ["train", "--task", "tau", "--model", "simplenet", "--fileset", "{tmp}/missing.json"],
        ["contract", "show", "{tmp}/missing.onnx"],
        [
            "contract",
            "attach",
            "{tmp}/missing.onnx",
            "--preset",
            "qg",
            "--classes",
            "a,b",
            "--kind",
            "jet",
            "--out",
            "{tmp}/x.onnx",
        ],
        ["triton-repo", "{tmp}/missing.onnx", "--out", "{tmp}/repo"],
    ],
)
def test_a_missing_input_file_exits_2_in_every_command(tmp_path, capsys, args):
    rc = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert "missing." in err


def test_debug_shows_the_traceback(tmp_path, capsys):
    args = [
        "run",
        "--fileset",
        str(tmp_path / "missing.json"),
        "--tagger",
        "tau_simplenet",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("e2e-coffea run: error: fileset")
