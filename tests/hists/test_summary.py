"""``roc.png``: drawn on a Figure of its own, whatever backend the caller chose."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest

from e2e_coffea.hists.roc import roc_from_counts
from e2e_coffea.hists.summary import plot_rocs


@pytest.fixture
def pdf_backend():
    """The caller's backend (a notebook's, say) for one test, restored afterwards."""
    before = matplotlib.get_backend()
    matplotlib.use("pdf")
    yield "pdf"
    matplotlib.use(before)


def test_plot_rocs_leaves_the_callers_backend_alone(pdf_backend: str, tmp_path: Path) -> None:
    edges = np.linspace(0, 1, 7)
    roc = roc_from_counts([1, 2, 5, 10, 30, 50], [60, 30, 10, 5, 2, 1], edges)
    path = plot_rocs({"tau": roc}, tmp_path / "roc.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert matplotlib.get_backend() == pdf_backend
