"""Notebook tests: the shared sample and tagger come from ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def notebook_tagger(jet_tagger: Path) -> str:
    """``tau_simplenet`` once it ships; until then the tiny untrained tagger (same classes)."""
    from e2e_coffea.inference.shipped import list_taggers

    return "tau_simplenet" if "tau_simplenet" in list_taggers() else str(jet_tagger)
