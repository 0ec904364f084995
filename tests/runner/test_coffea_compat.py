"""The coffea internals the main job leans on (``runner/coffea_compat.py``) are still there
and still behave as the work-arounds assume: each test fails the day coffea changes them,
so a work-around cannot silently stop working (or outlive the bug it covers)."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot
from packaging.requirements import Requirement

from e2e_coffea.runner.accounting import coffea_skip_notices
from e2e_coffea.runner.coffea_compat import (
    PATCHED_NAME,
    failure_line,
    unicode_safe_hashing,
    utf8_hash,
)
from e2e_coffea.runner.live import chunk_items

REPO = Path(__file__).parents[2]


def test_the_installed_coffea_is_inside_the_pinned_range() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [Requirement(d) for d in deps if Requirement(d).name == "coffea"]
    import coffea

    assert pin.specifier.contains(coffea.__version__), (pin, coffea.__version__)
    assert pin.specifier.contains("2027.1.0") is False  # an upper bound: re-check on a new year


def test_coffea_still_hashes_files_through_the_swapped_private_name() -> None:
    from coffea.processor import executor
    from coffea.util import _hash

    assert getattr(executor, PATCHED_NAME) is _hash  # the name the swap replaces
    meta = executor.FileMeta("tàu-ß", "/data/ünï/tàu.root", "Events")
    with pytest.raises(UnicodeEncodeError):  # the bug: fixed upstream, drop the work-around
        hash(meta)
    with unicode_safe_hashing():
        assert meta.__hash__() == utf8_hash(("tàu-ß", "/data/ünï/tàu.root", "Events"))
    assert getattr(executor, PATCHED_NAME) is _hash  # restored
    ascii_items = ("qcd", "/data/qcd.root", "Events")
    assert utf8_hash(ascii_items) == _hash(ascii_items)  # same digests: same chunk ids, caches


def _tiny_file(path: Path, n: int = 40) -> Path:
    with uproot.recreate(path) as f:
        f["Events"] = {"x": np.arange(n, dtype=np.float64)}
    return path


def _runner(**kw: Any) -> Any:
    from coffea.nanoevents import BaseSchema
    from coffea.processor import IterativeExecutor, Runner

    return Runner(
        executor=IterativeExecutor(status=False, retries=0),
        pre_executor=IterativeExecutor(status=False), schema=BaseSchema, chunksize=15,
        metadata_cache={}, **kw,
    )  # fmt: skip


def _fails_at_14(exc: type[Exception]) -> Any:
    def process(events: Any) -> dict[str, int]:
        start = events.metadata["entrystart"]
        if start == 14:
            msg = f"entry {start + 3}: boom"
            raise exc(msg)
        return {"n": len(events)}

    return process


def test_coffea_failure_text_still_names_the_file_and_entries(tmp_path: Path) -> None:
    path = str(_tiny_file(tmp_path / "it's.root"))
    with pytest.raises(Exception) as info, unicode_safe_hashing():  # noqa: PT011 - coffea raises bare Exception
        _runner()({"tau": {"files": {path: "Events"}}}, _fails_at_14(ValueError))
    assert failure_line(info.value) == f"file {path}, entries 14-28: entry 17: boom"


def test_coffea_skip_notices_still_name_the_file_and_entries(tmp_path: Path) -> None:
    path = str(_tiny_file(tmp_path / "qcd.root"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing else may leak out of coffea_skip_notices
        with coffea_skip_notices() as skipped, unicode_safe_hashing():
            out = _runner(skipbadfiles=True)(
                {"qcd": {"files": {path: "Events"}}}, _fails_at_14(OSError)
            )
    assert out == {"n": 26}
    assert [(f.file, f.entry_start, f.entry_stop) for f in skipped] == [(path, 14, 28)]
    assert "entry 17: boom" in skipped[0].reason


def test_live_chunks_come_from_coffea_and_keep_unicode_names(tmp_path: Path) -> None:
    path = str(_tiny_file(tmp_path / "tàu.root"))
    items = chunk_items({"tàu-ß": {"files": {path: "Events"}, "metadata": {"xsec_pb": 2.0}}}, 15)
    assert [(c.dataset, c.path, c.tree, c.start, c.stop) for c in items] == [
        ("tàu-ß", path, "Events", a, b) for a, b in ((0, 14), (14, 28), (28, 40))
    ]
    assert items[0].metadata == {"xsec_pb": 2.0}
