"""``atomic_write``: the target holds the old bytes or the new ones, never a torn file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from e2e_coffea.io.atomic import TEMP_SUFFIX, atomic_write, atomic_write_bytes


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")

    def write_then_fail() -> None:
        with atomic_write(target) as tmp:
            tmp.write_bytes(b"half a new fi")
            assert target.read_bytes() == b"old"  # nothing under the real name yet
            msg = "check failed"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="check failed"):
        write_then_fail()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_a_clean_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_bytes(b"old")
    with atomic_write(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".summary.json.")
        assert tmp.name.endswith(TEMP_SUFFIX)
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_private_files_are_0600_and_others_follow_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        shared = atomic_write_bytes(tmp_path / "shared.json", b"{}")
        private = atomic_write_bytes(tmp_path / "ckpt.zip", b"zip", private=True, durable=True)
    finally:
        os.umask(umask)
    assert _mode(shared) == 0o644
    assert _mode(private) == 0o600
    assert private.read_bytes() == b"zip"
