"""Which samples a class's objects come from, for the summary's signal/background lists."""

from __future__ import annotations

__all__ = ["main_datasets"]


def main_datasets(counts: dict[str, float], share: float = 0.05) -> list[str]:
    """Datasets giving at least ``share`` of a class: a QCD sample's few real taus count in
    the ROC (they are taus) but do not make "qcd" a signal dataset in the summary."""
    total = sum(counts.values())
    return sorted(ds for ds, n in counts.items() if total and n / total >= share)
