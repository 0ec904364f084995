"""The main job's coffea processor and the histograms it books and fills per chunk."""

from __future__ import annotations

from .booking import MeanImages, book_score_hists, fill_scores, label_names
from .tagger_processor import E2ETaggerProcessor, tagger_cuts

__all__ = [
    "E2ETaggerProcessor",
    "MeanImages",
    "book_score_hists",
    "fill_scores",
    "label_names",
    "tagger_cuts",
]
