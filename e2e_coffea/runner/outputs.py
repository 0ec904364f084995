"""A run's output folder: checked before the first chunk, written as one set afterwards.

``check_out_dir`` finds an ``--out`` that cannot be written *before* hours of chunks
run (the write is probed for real: root ignores permission bits, read-only mounts do
not). ``write_run_outputs`` stages every file in a private folder inside ``--out`` and
only then moves them into place, so a failure while writing (a full disk, a plot that
cannot be drawn) leaves the previous run's files untouched, and files an earlier run
wrote but this one does not (an old ``roc.png``) are removed with the same step.
``summary.json`` is moved last: a folder that holds it holds a finished, consistent set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from ..exceptions import OutputDirError, OutputWriteError
from ..processor.serialize import OUTPUT_FILE, PICKLED_OUTPUT_FILE, dumps_output

__all__ = [
    "FACILITY_FILE",
    "ROC_FILE",
    "RUN_FILES",
    "SUMMARY_FILE",
    "check_out_dir",
    "check_out_file",
    "write_run_outputs",
]

SUMMARY_FILE: Final = "summary.json"
ROC_FILE: Final = "roc.png"
FACILITY_FILE: Final = "facility.json"
RUN_FILES: Final = (OUTPUT_FILE, PICKLED_OUTPUT_FILE, FACILITY_FILE, ROC_FILE, SUMMARY_FILE)
"""Every file a run may leave in ``--out``; each is replaced or removed on every run
(``output.pkl``: what older versions wrote, never written now)."""
_STAGE_PREFIX: Final = ".e2e-coffea-staging-"


def check_out_dir(out: str | os.PathLike[str], *, create_parents: bool = True) -> Path:
    """Raise :class:`OutputDirError` unless the run's files can be written to ``out``.

    ``out`` may exist (a folder) or not: then it, and with ``create_parents`` any missing
    folder above it, is created when the files are written, not now. Writability is
    probed by creating and removing a file in the nearest existing folder, so root and
    read-only file systems are judged right. Every command that writes a folder calls
    this before its work (``run``, ``train``, ``triton-repo``).
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        msg = f"--out {p} is an existing file; expected a folder (created if missing)"
        raise OutputDirError(msg)
    _check_writable(p, p.absolute(), create_parents)
    return p


def check_out_file(out: str | os.PathLike[str]) -> Path:
    """Raise :class:`OutputDirError` unless a file can be written (atomically, by a rename
    in its folder) at ``out``; missing folders above it are created when it is written.
    What :func:`check_out_dir` is for a folder, for commands that write one file
    (``contract attach``)."""
    p = Path(out)
    if p.is_dir():
        msg = f"--out {p} is an existing folder; expected a file name"
        raise OutputDirError(msg)
    _check_writable(p, p.absolute().parent, True)
    return p


def _check_writable(p: Path, folder: Path, create_parents: bool) -> None:
    """``folder`` (which will hold what ``--out p`` writes) can be made and written."""
    probe_in = folder
    while not probe_in.exists():
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        msg = f"--out {p}: {probe_in} is a file, so no folder can be made under it"
        raise OutputDirError(msg)
    if not create_parents and probe_in not in (folder, folder.parent):
        msg = f"--out {p}: its parent folder {folder.parent} does not exist; create it first"
        raise OutputDirError(msg)
    try:
        fd, tmp = tempfile.mkstemp(dir=probe_in, prefix=".e2e-coffea-write-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        what = "folder" if probe_in == p.absolute() else f"parent folder {probe_in}"
        msg = f"--out {p}: cannot write to its {what} ({type(err).__name__}: {err.strerror or err})"
        raise OutputDirError(msg) from err


def write_run_outputs(
    out: str | os.PathLike[str],
    output: Mapping[str, Any],
    summary: Mapping[str, Any],
    *,
    plot_roc: Callable[[Path], Any] | None = None,
    facility: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``output.zip``, ``summary.json`` and, when given, ``roc.png`` (``plot_roc``
    draws it to the path it is handed) and ``facility.json``, replacing an earlier
    run's set as a whole. Returns ``{file name: path}`` of what this run wrote.

    Nothing in ``out`` changes unless every file was written; any of :data:`RUN_FILES`
    this run does not write is removed, so no file describes another run.
    """
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=d, prefix=_STAGE_PREFIX))
    try:
        try:
            _stage(stage, output, summary, plot_roc, facility)
        except (OSError, TypeError, ValueError) as err:
            msg = (
                f"could not write the run's files to {d} ({type(err).__name__}: {err}); "
                f"the files there are unchanged"
            )
            raise OutputWriteError(msg) from err
        written = [name for name in RUN_FILES if (stage / name).is_file()]
        # summary.json goes first and comes back last: a crash in between leaves no
        # summary, never a summary next to files of another run
        _remove(d / SUMMARY_FILE)
        for name in RUN_FILES:
            if name == SUMMARY_FILE:
                continue
            if name in written:
                os.replace(stage / name, d / name)
            else:
                _remove(d / name)
        os.replace(stage / SUMMARY_FILE, d / SUMMARY_FILE)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {name: d / name for name in written}


def _stage(
    stage: Path,
    output: Mapping[str, Any],
    summary: Mapping[str, Any],
    plot_roc: Callable[[Path], Any] | None,
    facility: Mapping[str, Any] | None,
) -> None:
    (stage / OUTPUT_FILE).write_bytes(dumps_output(output))
    if facility is not None:
        (stage / FACILITY_FILE).write_text(json.dumps(facility, indent=2, default=str) + "\n")
    if plot_roc is not None:
        plot_roc(stage / ROC_FILE)
        if not (stage / ROC_FILE).is_file():
            msg = f"the ROC plot was not written to {stage / ROC_FILE}"
            raise OSError(msg)
    (stage / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float) + "\n")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
