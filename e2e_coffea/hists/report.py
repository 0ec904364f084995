"""A run's result that can describe and write itself: what the CLI and the Python API share.

``e2e-coffea run`` and :func:`e2e_coffea.run` both end in a :class:`RunReport`: its
:meth:`~RunReport.summary` is the dict ``summary.json`` holds, and its
:meth:`~RunReport.write` writes ``output.zip``, ``summary.json``, ``roc.png`` (when a
tagger has a ROC) and ``facility.json`` (after a ``--cluster`` run), the same files
whichever door the run came in by. Which ROCs are drawn is decided here, once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..frames.selection import ObjectCuts
from ..inference import TaggerSpec
from ..runner import RunFailedError, RunResult
from ..runner.outputs import write_run_outputs
from .multiclass import one_vs_rest
from .roc import RocCurve
from .run_summary import RunSummary
from .summary import plot_rocs, roc_for_tagger, summarize

__all__ = ["IncompleteRunError", "RunReport"]


class IncompleteRunError(RunFailedError):
    """Entries were not processed and a partial result was not accepted
    (``allow_incomplete``); :attr:`report` holds what was done, already written when an
    ``out`` folder was given."""

    def __init__(self, msg: str, report: RunReport) -> None:
        super().__init__(msg)
        self.report = report


@dataclass
class RunReport(RunResult):
    """:class:`~e2e_coffea.runner.RunResult` with the taggers it ran, so that it can give
    its summary and write its files."""

    specs: list[TaggerSpec] = field(default_factory=list)
    cuts: ObjectCuts | None = None
    facility: dict[str, Any] | None = None
    """The facility report of a ``cluster`` run (written as ``facility.json``)."""
    written: dict[str, Path] = field(default_factory=dict)
    """``{file name: path}`` of the last :meth:`write`."""

    @classmethod
    def of(
        cls,
        result: RunResult,
        specs: list[TaggerSpec],
        *,
        cuts: ObjectCuts | None = None,
        facility: dict[str, Any] | None = None,
    ) -> RunReport:
        """The report of ``result``, a run of ``specs``."""
        return cls(
            output=result.output, expected=result.expected, failed=result.failed,
            wall_time=result.wall_time, chunksize=result.chunksize,
            missing_branches=result.missing_branches, datasets=result.datasets,
            specs=list(specs), cuts=cuts, facility=facility,
        )  # fmt: skip

    def summary(self) -> RunSummary:
        """The dict ``summary.json`` holds (JSON-ready)."""
        return summarize(self, self.specs, self.cuts)

    def rocs(self, summary: RunSummary | None = None) -> dict[str, RocCurve]:
        """What ``roc.png`` draws: the ROC of every binary tagger that has an AUC (by
        tagger name) and the one-vs-rest ROC of every class of a multi-class tagger that
        has one (``"tagger: class vs rest"``), as the summary gives their AUCs."""
        taggers = (summary or self.summary())["taggers"]
        hists = self.output["hists"]
        out: dict[str, RocCurve] = {}
        for s in self.specs:
            entry = taggers[s.name]
            names = s.contract.class_names
            if entry.get("auc") is not None:
                out[s.name] = roc_for_tagger(hists, s.name, names)[0]
            classes = [
                c for c, v in (entry.get("per_class") or {}).items() if v.get("auc") is not None
            ]
            if classes:
                per_class = one_vs_rest(hists, s.name, names)
                for c in classes:
                    roc = per_class[c][0]
                    if roc is not None:
                        out[f"{s.name}: {c} vs rest"] = roc
        return out

    def write(self, out: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the run's files to the folder ``out``, replacing an earlier run's set
        as a whole (see :func:`~e2e_coffea.runner.outputs.write_run_outputs`); returns
        ``{file name: path}``."""
        summary = self.summary()
        rocs = self.rocs(summary)
        self.written = write_run_outputs(
            out,
            self.output,
            summary,
            plot_roc=(lambda path: plot_rocs(rocs, path)) if rocs else None,
            facility=self.facility,
        )
        return self.written

    def require_complete(self, where: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`IncompleteRunError` when entries were not processed; ``where``
        is the folder whose ``summary.json`` lists them. A complete run whose tagger has no
        AUC because a sample it needs was never asked for (a signal-only fileset) is
        incomplete too: its score histograms are written, its figure of merit is not."""
        if self.complete:
            missing = self.summary().get("incomplete_taggers") or {}
            if not missing:
                return
            name, why = next(iter(missing.items()))
            written = (
                f" (the score histograms are in {Path(where) / 'output.zip'})" if where else ""
            )
            msg = (
                f"incomplete result: {name}: {why}{written}; --allow-incomplete "
                f"(allow_incomplete=True) accepts a result without an AUC"
            )
            raise IncompleteRunError(msg, self)
        lost = self.lost_datasets()
        lost_text = f"; dataset(s) {lost} lost entirely" if lost else ""
        listed = f" (listed in {Path(where) / 'summary.json'})" if where is not None else ""
        msg = (
            f"incomplete run: {self.processed} of {int(sum(self.expected.values()))} entries "
            f"processed, {len(self.failed)} range(s) failed{lost_text}{listed}; "
            f"--allow-incomplete (allow_incomplete=True) accepts a partial result"
        )
        raise IncompleteRunError(msg, self)
