"""Which samples a class's objects come from, for the summary's signal/background lists.

The score histograms hold event weights (cross-section x luminosity / events), so a
QCD sample's handful of real taus can outweigh a whole tau sample; which sample a class
*comes from* is a question about objects, answered from the unweighted ``objects``
counts when the output has them (outputs of e2e-coffea before weighting do not: their
score histograms are counts already)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cell_counts", "main_datasets"]


def main_datasets(counts: dict[str, float], share: float = 0.05) -> list[str]:
    """Datasets giving at least ``share`` of a class: a QCD sample's few real taus count in
    the ROC (they are taus) but do not make "qcd" a signal dataset in the summary."""
    total = sum(counts.values())
    return sorted(ds for ds, n in counts.items() if total and n / total >= share)


def cell_counts(objects: Any, tagger: str) -> dict[tuple[str, str], int] | None:
    """Unweighted objects per (dataset, truth label) of one tagger from the ``objects``
    histogram; None without one (or without the tagger in it)."""
    if objects is None or tagger not in list(objects.axes["tagger"]):
        return None
    h = objects[{"tagger": tagger}]
    values = np.asarray(h.values())
    return {
        (str(ds), str(lab)): int(values[i, j])
        for i, ds in enumerate(h.axes["dataset"])
        for j, lab in enumerate(h.axes["label"])
    }
