"""The training conditions a contract records: pile-up and frame occupancy per channel.

The occupancy is measured on the training split's own frames (the first
:data:`MAX_FRAMES`, as the model saw them), with the same sums :class:`~e2e_coffea.Tagger` and the
main job take at run time (:mod:`e2e_coffea.frames.occupancy`), so that the two compare.
The pile-up is the training samples' ``pileup`` (their fileset metadata, as ``generate``
writes it); nVtx = 1 + mu.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...frames.occupancy import add_frames, new_tally, tally_means
from .batch import Batch, expect_batch

__all__ = ["MAX_FRAMES", "training_conditions"]

MAX_FRAMES = 2000
"""Frames enough for a mean good to a few percent; a pass over them costs seconds."""


def _pileup(described: Mapping[str, Any]) -> float | None:
    samples = described.get("samples")
    if not isinstance(samples, Mapping):
        return None
    mus = {s.get("pileup") for s in samples.values() if isinstance(s, Mapping)}
    if len(mus) != 1:
        return None  # samples at different pile-up (or unknown): no single condition
    (mu,) = mus
    return float(mu) if isinstance(mu, int | float) else None


def training_conditions(
    batches: Iterable[Batch],
    channels: Sequence[str],
    described: Mapping[str, Any],
    *,
    images: bool = True,
    max_frames: int = MAX_FRAMES,
) -> dict[str, Any]:
    """``{"pileup_mu", "mean_nvtx", "occupancy": {channel: {"hits", "energy"}},
    "frames"}`` from the training batches (frames only for image models) and the
    samples' description; keys are left out where unknown."""
    out: dict[str, Any] = {}
    mu = _pileup(described)
    if mu is not None:
        out.update(pileup_mu=mu, mean_nvtx=1.0 + mu)
    if images:
        tally = new_tally()
        for item in batches:
            frames = expect_batch(item).frames
            add_frames(tally, frames[: max(0, max_frames - tally["frames"])], channels)
            if tally["frames"] >= max_frames:
                break
        out.update(tally_means(tally))
        out["frames"] = tally["frames"]
    return out
