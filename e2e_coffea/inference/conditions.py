"""Is a sample inside the conditions a tagger was trained in? One warning when it is not.

A tagger trained without pile-up falls to chance at <mu> = 35 (issue 20: tau_simplenet
0.516), and nothing in its scores says so. Its contract's ``conditions`` (pile-up,
occupancy per channel) are compared with what a run measures: mean nVtx per event, mean
hits and summed energy per frame and channel. A ratio beyond :data:`FAR` either way is
named, once per tagger, in the console and in ``summary.json``'s ``warnings``.

Taggers exported before the field existed have no ``conditions``; when their provenance
names the training samples' pile-up (``samples: {name: {"pileup": mu}}``, as every
shipped tagger's does: 0), that is their known condition, nVtx = 1 + mu.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ENERGY_CHANNELS", "FAR", "ConditionsWarning", "conditions_warning", "expected_conditions",
]  # fmt: skip

FAR = 2.0
"""A measured mean more than this factor above (or below) the training one is "far"."""


ENERGY_CHANNELS = frozenset({"ecal", "hcal"})
"""Channels whose summed energy per frame is compared too: calorimeter sums are stable.
A track channel's sum (pT, impact-parameter significance) is dominated by a few tracks
of its long tail, and swings by more than 2x between samples of the same conditions;
its hit count is compared instead."""


class ConditionsWarning(UserWarning):
    """A sample's conditions are far outside those the tagger was trained in."""


def expected_conditions(contract: Any) -> dict[str, Any] | None:
    """The tagger's training conditions: its contract's ``conditions``, else the pile-up
    its provenance records for every training sample (nVtx = 1 + mu), else None."""
    if getattr(contract, "conditions", None):
        return dict(contract.conditions)
    samples = (getattr(contract, "provenance", None) or {}).get("samples")
    if isinstance(samples, Mapping) and samples:
        mus = {
            float(s["pileup"])
            for s in samples.values()
            if isinstance(s, Mapping) and isinstance(s.get("pileup"), int | float)
        }
        if len(mus) == 1 and all(
            isinstance(s, Mapping) and "pileup" in s for s in samples.values()
        ):
            mu = mus.pop()
            return {
                "pileup_mu": mu,
                "mean_nvtx": 1.0 + mu,
                "source": "provenance: the training samples' pile-up",
            }
    return None


def _far(measured: float, expected: float) -> bool:
    if expected <= 0:
        return measured > 0
    ratio = measured / expected
    return ratio > FAR or ratio < 1.0 / FAR


def conditions_warning(
    name: str, expected: Mapping[str, Any] | None, measured: Mapping[str, Any]
) -> str | None:
    """One line naming every measured condition far from ``expected``; None when the
    sample is within them (or nothing can be compared)."""
    if not expected:
        return None
    reasons: list[str] = []
    e_nvtx, m_nvtx = expected.get("mean_nvtx"), measured.get("mean_nvtx")
    if isinstance(e_nvtx, int | float) and isinstance(m_nvtx, int | float) and _far(m_nvtx, e_nvtx):
        mu = expected.get("pileup_mu")
        was = f"{e_nvtx:.1f}" + (f" (pile-up {mu:g})" if isinstance(mu, int | float) else "")
        reasons.append(f"mean nVtx {m_nvtx:.1f}, trained at {was}")
    occ = measured.get("occupancy") or {}
    for ch, train in (expected.get("occupancy") or {}).items():
        if ch not in occ:
            continue
        for key in ("hits", "energy") if ch in ENERGY_CHANNELS else ("hits",):
            e, m = train.get(key), occ[ch].get(key)
            if isinstance(e, int | float) and isinstance(m, int | float) and _far(m, e):
                reasons.append(f"{ch} {key} per frame {m:.3g}, trained at {e:.3g}")
    if not reasons:
        return None
    return (
        f"tagger {name!r}: the sample is far outside its training conditions "
        f"({'; '.join(reasons)}; more than {FAR:g}x off): its scores there are not what it "
        "was validated for"
    )
