"""Facility tests: the shared sample and tagger come from ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHUNKSIZE = 20
REPO = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def reference(sample: Any, jet_tagger: Path) -> Any:
    """The iterative run every distributed run must reproduce exactly."""
    from e2e_coffea.runner import run

    return run(
        sample.fileset["sparse"],
        [jet_tagger],
        executor="iterative",
        chunksize=CHUNKSIZE,
        device="cpu",
        progress=False,
    )
