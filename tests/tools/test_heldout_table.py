"""tools/heldout-table.py: the held-out table gives the physical headline and its companions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

TOOL = Path(__file__).parents[2] / "tools" / "heldout-table.py"
SUMMARY = (
    Path(__file__).parents[2] / "benchmarks/results/2026-12-05-2core/physical_headline/summary.json"
)


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("heldout_table", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binary_rows_give_the_headline_and_multiclass_rows_the_pairs() -> None:
    tool = _tool()
    taggers = json.loads(SUMMARY.read_text())["taggers"]
    text, m = tool.figures(taggers["tau_simplenet"])
    phys = taggers["tau_simplenet"]["physical"]
    assert text.startswith(f"headline {phys['auc_headline']:.4f}")
    assert f"unweighted {phys['auc_unweighted']:.4f}" in text
    assert "qcd_pthat30to80" in text
    assert "n_charged" in text
    assert m["heldout_auc"] == phys["auc_headline"]  # the headline is what gets recorded
    assert m["heldout_auc_xsec_weighted"] == taggers["tau_simplenet"]["auc"]
    assert set(m["heldout_auc_per_background"]) == set(phys["per_background_dataset"])
    text3, m3 = tool.figures(taggers["tau3_simplenet"])
    assert text3.startswith("pairwise tau_vs_qcd")
    assert m3["heldout_auc_pairwise"]["tau_vs_qcd"] == pytest.approx(
        taggers["tau3_simplenet"]["pairwise"]["tau_vs_qcd"]["auc"]
    )
    # a summary from before the headline existed keeps its plain AUC line
    old = {k: v for k, v in taggers["tau_simplenet"].items() if k != "physical"}
    text_old, m_old = tool.figures(old)
    assert text_old.startswith("AUC ")
    assert m_old["heldout_auc"] == old["auc"]
