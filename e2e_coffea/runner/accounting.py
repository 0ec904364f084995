"""Entry accounting: what was processed, what failed and why, and what no chunk covered.

Every expected entry ends up in exactly one place: a processed chunk, or a
:class:`ChunkFailure` with its real reason. Chunk failures travel inside the processor's
output (``output["failed"]``), so they reach the client with their reason under every
executor; coffea's own in-process "skipping" warnings are turned into failures too, and
any range still uncovered is listed as a gap.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from .coffea_compat import work_item_span

__all__ = [
    "ChunkFailure",
    "RunResult",
    "coffea_skip_notices",
    "counted_twice",
    "gaps",
    "output_failures",
    "renamed_chunks",
]


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
    file_ids: dict[str, str] = field(default_factory=dict)
    """Per file read: its ROOT UUID (one file under two names is read under one)."""

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
                span = work_item_span(text) if text.startswith(_SKIP_NOTICE) else None
                if span is None:
                    others.append(w)
                    continue
                reason = text.split("The error was:", 1)[-1].strip().rstrip(".") or text
                found.append(ChunkFailure(*span, reason))
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


def renamed_chunks(out: Any, names: Mapping[str, str]) -> Any:
    """A chunk output with its files renamed (``{old: new}``) in the chunk ids: a chunk
    checkpointed under one name of a file, loaded under another, is accounted under the
    name this run reads it by."""
    names = {a: b for a, b in names.items() if a != b}
    if not names or not isinstance(out, dict):
        return out
    out = dict(out)
    for key in ("chunks", "failed"):
        if isinstance(out.get(key), dict):
            out[key] = {_rename(c, names): v for c, v in out[key].items()}
    return out


def _rename(chunk_id: str, names: Mapping[str, str]) -> str:
    path, sep, span = chunk_id.rpartition(":")
    return f"{names.get(path, path)}{sep}{span}"


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


def counted_twice(output: Mapping[str, Any], file_ids: Mapping[str, str]) -> list[str]:
    """Files (ROOT UUIDs) whose entries were processed under more than one name.

    The preflight reads each UUID under one name only, so this finds nothing unless
    something (a checkpoint, a hand-merged output) brought a second name back in; entries
    are then counted by file identity, not by name, and a double count is never accepted."""
    names: dict[str, set[str]] = {}
    for chunk_id in output.get("chunks", {}):
        path = split_chunk_id(chunk_id)[0]
        names.setdefault(file_ids.get(path, path), set()).add(path)
    return [f"UUID {u}: {sorted(p)}" for u, p in sorted(names.items()) if len(p) > 1]
