"""Which object quantities validate a regression tagger: its truth and a classical baseline.

A regression contract's ``target`` names what the model predicts (``{"name": "jet_mass",
"unit": "GeV", "transform": "log"}``); the response ``predicted / true`` needs the true
value of every object, which the files keep under a quantity of
:data:`~e2e_coffea.layouts.OBJECT_BRANCHES` (``gen_pt`` -> ``Jet_genPt``). The target may
say which (``"truth": "gen_mass"``); else the target's name decides (:data:`TARGET_TRUTH`).
The baseline is the reconstructed quantity of the same name (``gen_mass`` -> the calo
jet's four-vector mass ``mass``, ``gen_pt`` -> its ``pt``): what the model has to beat.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "BASELINES",
    "TARGET_TRUTH",
    "TRUTH_BASELINES",
    "regression_baseline",
    "regression_quantities",
    "regression_truth",
]

TARGET_TRUTH: Final[dict[str, str]] = {
    "jet_pt": "gen_pt", "pt": "gen_pt", "jet_mass": "gen_mass", "mass": "gen_mass",
    "jet_energy": "gen_energy", "energy": "gen_energy", "tau_pt": "gen_vis_tau_pt",
}  # fmt: skip
"""Truth quantity of a target whose contract names none (``target["truth"]`` wins)."""

BASELINES: Final[tuple[str, ...]] = ("pt", "mass", "energy")
"""Record quantities that can stand as the classical estimate of a ``gen_<q>`` truth."""


def regression_truth(contract: Any) -> str | None:
    """The quantity holding the truth of a regression contract's target, or None (a
    classifier, or a target that neither names its truth nor has a known name)."""
    if contract.task != "regression":
        return None
    target = contract.target or {}
    if target.get("truth"):
        return str(target["truth"])
    return TARGET_TRUTH.get(str(target.get("name") or contract.class_names[0]))


TRUTH_BASELINES: Final[dict[str, str]] = {"gen_vis_tau_pt": "pt"}
"""Baselines of truths not named ``gen_<reco quantity>``: a tau's visible pT is measured
classically by its jet's pT."""


def regression_baseline(contract: Any) -> str | None:
    """The reconstructed quantity compared with the model: the truth without ``gen_``
    (or :data:`TRUTH_BASELINES`)."""
    truth = regression_truth(contract)
    if truth is None:
        return None
    reco = TRUTH_BASELINES.get(truth, truth.removeprefix("gen_"))
    return reco if reco in BASELINES and reco != truth else None


def regression_quantities(contract: Any) -> tuple[str, ...]:
    """Optional object quantities a regression tagger's validation reads: its truth, the
    true pT its response is binned in, and its baseline (empty for classifiers)."""
    truth = regression_truth(contract)
    if truth is None:
        return ()
    base = regression_baseline(contract)
    return tuple(dict.fromkeys((truth, "gen_pt", *((base,) if base else ()))))
