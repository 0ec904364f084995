"""Event weights from a fileset's cross-sections: cross-section x luminosity / events.

``e2e-coffea generate`` writes, per dataset, ``xsec_pb`` and ``nevents``; a sample that
mixes pT-hat bins round-robin (``qcd``) writes ``xsec_pb_per_bin``, ``nevents_per_bin``
and ``pthat_bins`` instead, the event's bin being ``(event - 1) % n_bins``. Weighting by
bin turns that arbitrary mixture back into the physical spectrum. Datasets without
cross-sections (real data, other generators) get unit weights, and the run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError

__all__ = [
    "PB_PER_INV_FB",
    "WEIGHT_KEYS",
    "EventWeights",
    "event_weights",
    "needs_event_numbers",
    "weight_inputs",
]

PB_PER_INV_FB = 1000.0
"""1 fb^-1 = 1000 pb^-1."""


@dataclass(frozen=True)
class EventWeights:
    """Per-event weights of one chunk (None: unit weights) and how they were made."""

    weights: npt.NDArray[np.float64] | None
    how: str


WEIGHT_KEYS = ("xsec_pb", "nevents", "xsec_pb_per_bin", "nevents_per_bin")
"""The dataset metadata the weights are made of."""


def weight_inputs(metadata: Mapping[str, Any], lumi_fb: float | None) -> dict[str, Any]:
    """Everything a dataset's weights depend on (for checkpoint keys: a rerun with another
    luminosity or a corrected cross-section must not reuse chunks weighted the old way)."""
    if lumi_fb is None:
        return {"lumi_fb": None}
    return {"lumi_fb": lumi_fb, **{k: metadata.get(k) for k in WEIGHT_KEYS}}


def needs_event_numbers(metadata: Mapping[str, Any]) -> bool:
    """Whether the dataset's weights depend on the event (a mixture of pT-hat bins)."""
    return metadata.get("xsec_pb") is None and bool(metadata.get("xsec_pb_per_bin"))


def _positive(value: Any, name: str, where: str) -> float:
    """``value`` as a finite number > 0, or one line naming the dataset and key."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not (np.isfinite(x) and x > 0) or isinstance(value, bool):
        msg = f"{where}: metadata {name!r} must be a finite number > 0, got {value!r}"
        raise BadInputError(msg)
    return x


def _bin_table(metadata: Mapping[str, Any], lumi_pb: float, where: str) -> npt.NDArray[np.float64]:
    """Weight per pT-hat bin: xsec_pb_per_bin * lumi / nevents_per_bin (0 for empty bins)."""
    per_bin, n_per_bin = metadata.get("xsec_pb_per_bin"), metadata.get("nevents_per_bin")
    if not isinstance(per_bin, list | tuple) or not isinstance(n_per_bin, list | tuple):
        msg = f"{where}: metadata 'xsec_pb_per_bin' needs 'nevents_per_bin', both lists"
        raise BadInputError(msg)
    if len(per_bin) != len(n_per_bin):
        msg = (
            f"{where}: metadata 'xsec_pb_per_bin' has {len(per_bin)} bins but "
            f"'nevents_per_bin' has {len(n_per_bin)}"
        )
        raise BadInputError(msg)
    table = np.zeros(len(per_bin))
    for b, (xs, n) in enumerate(zip(per_bin, n_per_bin, strict=True)):
        if n in (0, None):
            continue  # no events generated in that bin: no event ever asks for its weight
        table[b] = _positive(xs, f"xsec_pb_per_bin[{b}]", where) * lumi_pb
        table[b] /= _positive(n, f"nevents_per_bin[{b}]", where)
    return table


def event_weights(
    metadata: Mapping[str, Any],
    n_events: int,
    lumi_fb: float | None,
    event_numbers: npt.NDArray[np.integer[Any]] | None = None,
    where: str = "dataset",
) -> EventWeights:
    """``xsec_pb * lumi / nevents`` per event, from the dataset's metadata.

    ``lumi_fb=None`` asks for unit weights. A pT-hat mixture needs the events' numbers
    (the generator's ``event`` branch). Metadata that names a cross-section but cannot
    give a weight (NaN, no ``nevents``, bins that disagree) is an error naming ``where``,
    never unit weights: a yield off by the cross-section must not look like a result."""
    if lumi_fb is None:
        return EventWeights(None, "unit weights (weighting off)")
    if isinstance(lumi_fb, bool) or not (np.isfinite(lumi_fb) and lumi_fb > 0):
        msg = f"luminosity must be finite and > 0 fb^-1, got {lumi_fb!r}"
        raise BadInputError(msg)
    lumi_pb = lumi_fb * PB_PER_INV_FB
    if metadata.get("xsec_pb") is not None:
        xsec = _positive(metadata["xsec_pb"], "xsec_pb", where)
        nevents = _positive(metadata.get("nevents"), "nevents", where)
        return EventWeights(
            np.full(n_events, xsec * lumi_pb / nevents),
            f"xsec {xsec:.4g} pb x {lumi_fb:g} fb^-1 / {nevents:g} events",
        )
    if metadata.get("xsec_pb_per_bin") is not None:
        table = _bin_table(metadata, lumi_pb, where)
        if event_numbers is None:
            msg = f"{where}: a pT-hat mixture's weights need the events' numbers"
            raise BadInputError(msg)
        which = (np.asarray(event_numbers, dtype=np.int64) - 1) % len(table)
        return EventWeights(
            table[which], f"xsec per pT-hat bin x {lumi_fb:g} fb^-1 / events per bin"
        )
    return EventWeights(None, "unit weights (no cross-section in the fileset)")
