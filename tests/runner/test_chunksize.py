"""The default chunk size: 10k events, but dense e2e chunks bounded to 1 GiB of images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from e2e_coffea.io import load_fileset
from e2e_coffea.layouts import E2E_IMAGES
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import DEFAULT_CHUNKSIZE, DENSE_CHUNK_BYTES, default_chunksize, run


def test_sparse_filesets_get_the_default(sample: Any, jet_tagger: Path) -> None:
    proc = E2ETaggerProcessor([jet_tagger], device="cpu")
    assert (
        default_chunksize(load_fileset(sample.fileset["sparse"]), proc)
        == DEFAULT_CHUNKSIZE
        == 10_000
    )


def test_e2e_chunks_hold_one_gib_of_the_images_the_taggers_read(
    sample: Any, jet_tagger: Path, eg_tagger: Path
) -> None:
    # the test jet tagger reads qg (track_pt, ecal, hcal); the e/gamma one EB energy and time
    jet = E2ETaggerProcessor([jet_tagger], device="cpu")
    both = E2ETaggerProcessor([jet_tagger, eg_tagger], device="cpu")
    qg_images = ("ECAL_tracksPt_atECALfixIP", "ECAL_energy", "HBHE_energy")
    per_event = sum(4 * math.prod(E2E_IMAGES[b].shape) for b in qg_images)
    assert (
        default_chunksize(load_fileset(sample.fileset["e2e"]), jet)
        == DENSE_CHUNK_BYTES // per_event
        == 1305
    )
    assert (
        default_chunksize(load_fileset(sample.fileset["e2e"]), both) < 1305
    )  # more images per event


def test_run_uses_and_reports_it(sample: Any, jet_tagger: Path) -> None:
    result = run(sample.fileset["e2e"], [jet_tagger], device="cpu", progress=False)
    assert result.chunksize == 1305
    assert result.complete
    assert len(result.output["chunks"]) == 2  # one chunk per 40-event file
