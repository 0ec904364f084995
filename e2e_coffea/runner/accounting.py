"""Entry accounting: what was processed, what failed and why, and what no chunk covered.

Every expected entry ends up in exactly one place: a processed chunk, or a
:class:`ChunkFailure` with its real reason. Chunk failures travel inside the processor's
output (``output["failed"]``), so they reach the client with their reason under every
executor; coffea's own in-process "skipping" warnings are turned into failures too, and
any range still uncovered is listed as a gap.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["ChunkFailure", "RunResult", "coffea_skip_notices", "gaps", "output_failures"]


@dataclass(frozen=True)
class ChunkFailure:
    """A file or entry range that was not processed, and why."""

    file: str
    entry_start: int | None
    entry_stop: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "entry_start": self.entry_start,
            "entry_stop": self.entry_stop,
            "reason": self.reason,
        }


@dataclass
class RunResult:
    """The merged output plus the bookkeeping that proves nothing was lost."""

    output: dict[str, Any]
    expected: dict[str, int]
    failed: list[ChunkFailure] = field(default_factory=list)
    wall_time: float = 0.0
    chunksize: int = 0
    missing_branches: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per dataset: optional branches its files lack -> what the run did instead."""
    datasets: dict[str, list[str]] = field(default_factory=dict)
    """Per dataset: its files, as the normalised fileset lists them."""

    @property
    def processed(self) -> int:
        return int(sum(self.output.get("entries", {}).values()))

    @property
    def failed_entries(self) -> int:
        """Entries in failed ranges (a file that could not be opened counts whole)."""
        return sum(
            (f.entry_stop or self.expected.get(f.file, 0)) - (f.entry_start or 0)
            for f in self.failed
        )

    @property
    def complete(self) -> bool:
        return self.processed == sum(self.expected.values()) and not self.failed

    def lost_datasets(self) -> list[str]:
        """Datasets of which not one entry was processed."""
        entries = self.output.get("entries", {})
        return sorted(ds for ds, files in self.datasets.items() if files and not entries.get(ds, 0))


_SKIP_NOTICE: Final = "Skipping bad file after"
_RETRY_NOTICE: Final = "Performed attempt"
_WORK_ITEM: Final = re.compile(
    r"filename='(?P<file>[^']*)'.*?entrystart=(?P<a>\d+), entrystop=(?P<b>\d+)"
)


@contextmanager
def coffea_skip_notices() -> Iterator[list[ChunkFailure]]:
    """Turn coffea's in-process "Skipping bad file ..." warnings into ChunkFailures.

    coffea reports a chunk it skipped (``skipbadfiles``) only as a UserWarning; caught
    here, its reason reaches :attr:`RunResult.failed` instead of being lost, and a
    ``-W error`` environment (pytest) does not turn the skip into a crash. Its "Performed
    attempt" retry notices are dropped; every other warning is re-emitted unchanged.
    """
    found: list[ChunkFailure] = []
    with warnings.catch_warnings(record=True) as caught:
        for notice in (_SKIP_NOTICE, _RETRY_NOTICE):
            warnings.filterwarnings("always", message=notice, category=UserWarning)
        try:
            yield found
        finally:
            others = []
            for w in caught:
                text = str(w.message)
                if text.startswith(_RETRY_NOTICE):
                    continue
                m = _WORK_ITEM.search(text) if text.startswith(_SKIP_NOTICE) else None
                if m is None:
                    others.append(w)
                    continue
                reason = text.split("The error was:", 1)[-1].strip().rstrip(".") or text
                found.append(ChunkFailure(m["file"], int(m["a"]), int(m["b"]), reason))
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def output_failures(output: Mapping[str, Any]) -> list[ChunkFailure]:
    """The chunks the processor gave up on (``skip_bad_files``), with their reasons."""
    out = []
    for chunk_id, reason in sorted(output.get("failed", {}).items()):
        path, start, stop = split_chunk_id(chunk_id)
        out.append(ChunkFailure(path, start, stop, str(reason)))
    return out


def split_chunk_id(chunk_id: str) -> tuple[str, int, int]:
    """``"path:start-stop"`` -> (path, start, stop)."""
    path, _, span = chunk_id.rpartition(":")
    a, _, b = span.partition("-")
    return path, int(a), int(b)


def gaps(
    output: Mapping[str, Any], expected: Mapping[str, int], known: Sequence[ChunkFailure] = ()
) -> list[ChunkFailure]:
    """Known chunk failures, plus any other range of a file that no chunk covered."""
    done: dict[str, list[tuple[int, int]]] = {}
    for chunk_id in output.get("chunks", {}):
        path, a, b = split_chunk_id(chunk_id)
        done.setdefault(path, []).append((a, b))
    for f in known:
        done.setdefault(f.file, []).append((f.entry_start or 0, f.entry_stop or 0))
    found = list(known)
    for path, n in expected.items():
        covered, pos = sorted(done.get(path, [])), 0
        for a, b in covered:
            if a > pos:
                found.append(ChunkFailure(path, pos, a, "chunk not processed"))
            pos = max(pos, b)
        if pos < n:
            found.append(ChunkFailure(path, pos, n, "chunk not processed"))
    return found
