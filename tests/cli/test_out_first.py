"""Every command that writes checks its ``--out`` before its work, as ``run`` does: one
line naming the path, exit 2, and the work (training, attaching, copying) never starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.cli import main

CASES = ("existing file", "file as parent", "read-only parent")


def _unwritable() -> Path:
    """A folder nobody may create files in, root included (chmod would not stop root)."""
    ro = Path("/sys/kernel")
    assert ro.is_dir()
    return ro


def _never(*args: Any, **kwargs: Any) -> Any:
    msg = "the command's work started before its --out was checked"
    raise AssertionError(msg)


def _argv(command: str, tagger: Path, out: Path) -> list[str]:
    return {
        "train": ["train", "--task", "tau", "--model", "simplenet", "--out", str(out)],
        "contract attach": [
            "contract", "attach", str(tagger), "--preset", "qg", "--classes", "g,q",
            "--kind", "jet", "--out", str(out),
        ],
        "triton-repo": ["triton-repo", str(tagger), "--out", str(out)],
    }[command]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["train", "contract attach", "triton-repo"])
def test_bad_out_exits_2_before_the_work(
    command: str,
    case: str,
    jet_tagger: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import e2e_coffea.export.attach as attach
    import e2e_coffea.inference.triton_repo as triton_repo
    import e2e_coffea.train.tasks.training as task_training

    monkeypatch.setattr(task_training, "train_task", _never)
    monkeypatch.setattr(attach, "attach_contract", _never)
    monkeypatch.setattr(triton_repo, "write_model_repository", _never)
    (tmp_path / "out.txt").write_text("keep me")
    (tmp_path / "a-folder.onnx").mkdir()
    wrong_kind = tmp_path / ("a-folder.onnx" if command == "contract attach" else "out.txt")
    out = {
        "existing file": wrong_kind,  # a file where a folder goes; a folder where a file goes
        "file as parent": tmp_path / "out.txt" / "sub" / "out",
        "read-only parent": _unwritable() / "new" / "e2e-out",
    }[case]
    code = main(_argv(command, jet_tagger, out))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert f"--out {out}" in err
    assert {"existing file": "is an existing", "file as parent": "is a file",
            "read-only parent": "cannot write"}[case] in err  # fmt: skip
    assert (tmp_path / "out.txt").read_text() == "keep me"
