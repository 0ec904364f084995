"""The shape of ``summary.json``: what :func:`~.summary.summarize` returns and
:meth:`~.report.RunReport.summary` gives, typed so that a reader of the run (the console
lines, a notebook) knows each key without running a job.

The per-tagger entries stay mappings: their keys depend on the model kind (binary AUC,
one-vs-rest per class, response and resolution), see :func:`~.summary.tagger_entry`.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["EntryCount", "FailedRange", "RunSummary", "Throughput", "Timing"]


class EntryCount(TypedDict):
    """Entries (events) the run processed, of those the fileset holds."""

    processed: int
    expected: int


class FailedRange(TypedDict):
    """A file's entry range that was not processed, and why
    (:meth:`~e2e_coffea.runner.accounting.ChunkFailure.to_dict`)."""

    file: str
    entry_start: int | None
    entry_stop: int | None
    reason: str


class Throughput(TypedDict):
    """Objects and events per second of wall time, and the wall time [s]."""

    jets_per_s: float
    events_per_s: float
    wall_s: float


class Timing(TypedDict):
    """Seconds spent, summed over chunks, reading, building frames and in inference."""

    time_read: float
    time_frames: float
    time_inference: float


class RunSummary(TypedDict):
    """Everything ``summary.json`` holds (JSON-ready: non-finite floats are ``None``)."""

    taggers: dict[str, dict[str, Any]]
    """Per tagger name: its figures by model kind, with its ``range``, ``batch_size`` and
    ``conditions``."""
    warnings: list[str]
    entries: EntryCount
    complete: bool
    incomplete_taggers: dict[str, str]
    """Tagger -> why it has no figure of merit (a sample it needs is missing)."""
    failed: list[FailedRange]
    lost_datasets: list[str]
    throughput: Throughput
    timing: Timing
    devices: dict[str, int]
    """Device -> chunks run there."""
    device_reasons: dict[str, int]
    oom_halvings: int
    workers: dict[str, int]
    """Worker -> objects it scored."""
    cutflow: dict[str, Any]
    missing_branches: dict[str, dict[str, str]]
    """Dataset -> {branch the file lacks: what was used instead}."""
    weights: dict[str, list[str]]
    notes: dict[str, list[str]]
