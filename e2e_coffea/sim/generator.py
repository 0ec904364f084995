"""Running Pythia 8 reproducibly: seeds, pT-hat bins, generator filters.

One user seed drives everything. Independent streams (one Pythia instance per pT-hat
bin, the pile-up pool, the numpy generators of vertices and detector) get their own
seeds from ``numpy.random.SeedSequence([seed, stream])``, so they never share random
numbers and the user seed 0 is as good as any (Pythia itself would read
``Random:seed = 0`` as "seed from the clock").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pythia8mc

from ..exceptions import GenerationError
from .processes import ProcessCard
from .record import GenRecord, from_batch

__all__ = [
    "PYTHIA_SEED_MAX",
    "BinStats",
    "ProcessGenerator",
    "derive_seed",
    "make_pythia",
    "numpy_rng",
    "open_fraction",
]

PYTHIA_SEED_MAX = 900_000_000
"""Largest value of Pythia's ``Random:seed`` (a unique sequence for 1..900,000,000)."""
STREAM_PILEUP = 1_000
STREAM_VERTEX = 1_001
STREAM_DETECTOR = 1_002


def derive_seed(seed: int, stream: int) -> int:
    """A Pythia seed in 1..900,000,000 for sub-stream ``stream`` of user ``seed``."""
    state = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]
    return int(state % PYTHIA_SEED_MAX) + 1


def numpy_rng(seed: int, stream: int) -> np.random.Generator:
    """Independent numpy generator for sub-stream ``stream`` of user ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def make_pythia(settings: Sequence[str], pythia_seed: int) -> pythia8mc.Pythia:
    """An initialised Pythia with ``settings`` and a fixed seed."""
    pythia = pythia8mc.Pythia("", False)  # False: no banner
    for line in (*settings, "Random:setSeed = on", f"Random:seed = {pythia_seed}"):
        if not pythia.readString(line):
            msg = f"Pythia rejected the setting {line!r}"
            raise GenerationError(msg)
    if not pythia.init():
        msg = f"Pythia failed to initialise with settings {list(settings)}"
        raise GenerationError(msg)
    return pythia


MB_TO_PB = 1.0e9
"""1 mb = 10^-27 cm^2 = 10^9 pb."""


@dataclass(frozen=True)
class BinStats:
    """What one pT-hat bin's generator did: Pythia's cross-section estimate of the bin's
    phase space (``sigma_mb`` +- ``sigma_err_mb``, from ``Info::sigmaGen/sigmaErr``) after
    ``pythia_events`` events, the events ``tried`` by the generator filter and
    ``accepted`` by it (both ``pythia_events`` without a filter), and the ``used`` events.
    The sample's cross-section is ``sigma * accepted / tried * decay_fraction``."""

    bin: int
    pthat: tuple[float, float] | None
    sigma_mb: float
    sigma_err_mb: float
    pythia_events: int
    tried: int
    accepted: int
    used: int
    decay_fraction: float = 1.0
    """Share of events left by the card's restricted hadron-level decays (1: none)."""


def open_fraction(pythia: pythia8mc.Pythia, pdg_id: int) -> float:
    """The branching fraction of the decay channels of ``pdg_id`` left switched on."""
    entry = pythia.particleData.particleDataEntryPtr(pdg_id)
    channels = [entry.channel(i) for i in range(entry.sizeChannels())]
    total = sum(ch.bRatio() for ch in channels)
    return sum(ch.bRatio() for ch in channels if ch.onMode() > 0) / total if total else 1.0


class ProcessGenerator:
    """Events of one process, bin by bin, through the process's generator filter."""

    def __init__(self, card: ProcessCard, seed: int) -> None:
        self.card = card
        self.seed = seed
        self._settings = card.bin_settings()
        self._pythias: dict[int, pythia8mc.Pythia] = {}
        self._buffer: dict[int, GenRecord] = {}
        self.tried = 0
        self.accepted = 0
        self._tried: dict[int, int] = {}
        self._accepted: dict[int, int] = {}
        self._used: dict[int, int] = {}

    @property
    def n_bins(self) -> int:
        return len(self._settings)

    def _pythia(self, b: int) -> pythia8mc.Pythia:
        if b not in self._pythias:
            self._pythias[b] = make_pythia(self._settings[b], derive_seed(self.seed, b))
        return self._pythias[b]

    def _generate_bin(self, b: int, n: int) -> GenRecord:
        """``n`` accepted events of bin ``b`` (leftover accepted events are kept)."""
        have = self._buffer.pop(b, None)
        parts = [have] if have is not None else []
        got = have.n_events if have is not None else 0
        pythia = self._pythia(b)
        while got < n:
            want = n - got
            batch = want if self.card.event_filter is None else max(2 * want, 16)
            rec = from_batch(pythia.nextBatch(batch), pythia.particleData.charge)
            if rec.n_events == 0:
                msg = f"Pythia returned no events for process {self.card.name!r}, bin {b}"
                raise GenerationError(msg)
            self.tried += rec.n_events
            self._tried[b] = self._tried.get(b, 0) + rec.n_events
            if self.card.event_filter is not None:
                rec = rec.take_events(np.flatnonzero(self.card.event_filter(rec)))
            self.accepted += rec.n_events
            self._accepted[b] = self._accepted.get(b, 0) + rec.n_events
            parts.append(rec)
            got += rec.n_events
        merged = GenRecord.concatenate(parts)
        if merged.n_events > n:
            self._buffer[b] = merged.take_events(np.arange(n, merged.n_events))
            merged = merged.take_events(np.arange(n))
        return merged

    def events(self, event_index: npt.NDArray[np.int64]) -> GenRecord:
        """Events for the 0-based sample indices ``event_index`` (bin = index % n_bins)."""
        bins = event_index % self.n_bins
        records, where = [], []
        for b in range(self.n_bins):
            slots = np.flatnonzero(bins == b)
            if len(slots):
                records.append(self._generate_bin(b, len(slots)))
                where.append(slots)
                self._used[b] = self._used.get(b, 0) + len(slots)
        rec = GenRecord.concatenate(records)
        # record order is bin by bin; put every event at its slot
        order = np.empty(len(event_index), dtype=np.int64)
        order[np.concatenate(where)] = np.arange(len(event_index))
        return rec.take_events(order)

    def bin_stats(self) -> list[BinStats]:
        """One :class:`BinStats` per bin that generated events, in bin order."""
        out = []
        for b in sorted(self._pythias):
            info = self._pythias[b].infoPython()  # a snapshot: ask after generating
            bins = self.card.pthat_bins
            out.append(
                BinStats(
                    b,
                    (float(bins[b][0]), float(bins[b][1])) if bins else None,
                    float(info.sigmaGen()),
                    float(info.sigmaErr()),
                    int(info.nAccepted()),
                    self._tried.get(b, 0),
                    self._accepted.get(b, 0),
                    self._used.get(b, 0),
                    math.prod(
                        open_fraction(self._pythias[b], pid) ** n
                        for pid, n in self.card.restricted_decays
                    ),
                )
            )
        return out
