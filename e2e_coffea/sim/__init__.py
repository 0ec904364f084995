"""Pythia 8 physics + a parametric CMS-like detector -> sparse-layout event chunks.

``simulate_events`` runs a named process (:data:`PROCESSES`) through Pythia, overlays
pile-up and the detector, and returns a :data:`SimChunk`: one jagged awkward record
array per collection of :data:`e2e_coffea.layouts.SPARSE_COLLECTIONS` plus ``"event"``.
``simulate_particles`` shoots given particles (a particle gun) through the same
detector, for physics validation without Pythia. See docs/detector.md.
"""

from __future__ import annotations

from .assemble import EVENT_DTYPES, FIELD_DTYPES, SimChunk
from .events import simulate_events
from .gun import simulate_particles
from .params import DEFAULT_PARAMS, DetectorParams
from .processes import PROCESSES, ProcessCard, pthat_bin_of_event

__all__ = [
    "DEFAULT_PARAMS",
    "EVENT_DTYPES",
    "FIELD_DTYPES",
    "PROCESSES",
    "DetectorParams",
    "ProcessCard",
    "SimChunk",
    "pthat_bin_of_event",
    "simulate_events",
    "simulate_particles",
]
