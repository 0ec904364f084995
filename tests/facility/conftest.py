"""Facility tests: the shared sample and tagger come from ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHUNKSIZE = 20
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def reference(sample: Any, jet_tagger: Path) -> Any:
    """The iterative run every distributed run must reproduce exactly."""
    from e2e_coffea.runner import run

    return run(sample.fileset["sparse"], [jet_tagger], executor="iterative", chunksize=CHUNKSIZE,
               device="cpu", progress=False)


def score_bins(output: dict[str, Any]) -> dict[tuple[str, str, str], np.ndarray]:
    """Score histogram by (dataset, label, tagger): categories grow in arrival order, so
    two equal runs may list them differently; compare cell by cell instead."""
    h = output["hists"]["score"]
    out = {}
    for d in h.axes["dataset"]:
        for lab in h.axes["label"]:
            for t in h.axes["tagger"]:
                v = h[{"dataset": d, "label": lab, "tagger": t}].view(flow=True)
                if v["value"].any():
                    out[(d, lab, t)] = np.stack([v["value"], v["variance"]])
    return out


def same_scores(a: dict[str, Any], b: dict[str, Any]) -> bool:
    sa, sb = score_bins(a), score_bins(b)
    return set(sa) == set(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="session")
def scores_equal() -> Any:
    """``same_scores`` as a fixture: test modules cannot import conftest under importlib mode."""
    return same_scores
