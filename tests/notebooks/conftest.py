"""Notebook tests reuse the main-job sample and tagger of ``tests/processor/conftest.py``.

Loaded by path (``--import-mode=importlib`` keeps test folders apart); its on-disk
markers make the sample generate once per session for every folder that uses it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_e2e_main_job_fixtures", Path(__file__).parents[1] / "processor" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

sample = _shared.sample
jet_tagger = _shared.jet_tagger


@pytest.fixture(scope="session")
def notebook_tagger(jet_tagger: Path) -> str:
    """``tau_simplenet`` once it ships; until then the tiny untrained tagger (same classes)."""
    from e2e_coffea.taggers import list_taggers

    return "tau_simplenet" if "tau_simplenet" in list_taggers() else str(jet_tagger)
