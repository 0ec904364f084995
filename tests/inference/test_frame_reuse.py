"""The Tagger builds a chunk's pieces into reused arrays: the frames of every batch a
caller keeps stay what they were built as, and the outputs do not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import uproot

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.inference.tagger import Tagger


def test_kept_batches_are_never_overwritten(sample: Any, jet_tagger: Path) -> None:
    with uproot.open(sample.files[("qcd", "sparse")]) as f:
        chunk = f["Events"].arrays()
    tagger = Tagger(jet_tagger, device="cpu", batch_size=16)
    tagger.frame_memory_mb = 3 * 7 * 4 * 3 * 125 * 125 / 2**20  # pieces of 7 (or 21) jets
    c, layout, offset = tagger.read(chunk)
    sel = tagger.select(c, layout, entry_offset=offset)
    batches = list(tagger.score_batches(c, layout, sel, entry_offset=offset))
    assert len(batches) >= 3  # pieces enough to reuse arrays if nothing guarded them
    kept = np.concatenate([b.inputs for b in batches])
    fresh, _ = build_jet_frames(
        c, layout="sparse", channels=list(tagger.contract.channels), jets=sel.selection,
        norm=tagger.inputs.norm,
    )  # fmt: skip
    np.testing.assert_array_equal(kept.view(np.uint32), fresh.view(np.uint32))
    # and dropping each batch as it comes (as the processor does) reuses the arrays
    addresses = set()
    for b in tagger.score_batches(c, layout, sel, entry_offset=offset):
        addresses.add(b.inputs.__array_interface__["data"][0])
        del b
    assert len(addresses) < len(batches)
