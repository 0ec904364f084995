"""Cross-sections and event counts of generated samples, for the fileset metadata.

Pythia estimates the cross-section of the phase space it samples while it generates
(``Info::sigmaGen``, in mb, with its statistical error ``sigmaErr``) [Bierlich et al.,
"A comprehensive guide to the physics and usage of PYTHIA 8.3", SciPost Phys. Codebases
8 (2022), sec. 2.6]. Each file is an independent run; a dataset's estimate averages its
files' estimates weighted by the number of Pythia events behind each (errors combined
accordingly), then multiplies by the generator filter's efficiency (accepted / tried
events, binomial error) when the process has a filter, and by the branching fraction of
decays the card switches off at hadron level, which ``sigmaGen`` does not see (the tau
sample keeps hadronic tau decays only: (0.6496)^2 = 0.42 with Pythia's tau decay table).
1 mb = 10^9 pb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .generator import MB_TO_PB, BinStats

__all__ = ["FileSample", "bin_dataset", "combine_bins", "dataset_metadata"]


@dataclass(frozen=True)
class FileSample:
    """One written file: its name, events, pT-hat bin (None: all bins mixed) and the
    generator statistics of the run that made it."""

    stem: str
    events: int
    bin: int | None
    stats: tuple[BinStats, ...]


def bin_dataset(process: str, edges: tuple[float, float]) -> str:
    """Dataset name of one pT-hat bin: ``qcd_pthat30to80``."""
    return f"{process}_pthat{edges[0]:g}to{edges[1]:g}"


def combine_bins(stats: Sequence[BinStats]) -> dict[str, float]:
    """Cross-section (pb) of one bin's events from several runs, with its error."""
    w = [float(s.pythia_events) for s in stats]
    total = sum(w)
    if not stats or total <= 0:
        return {"xsec_pb": math.nan, "xsec_err_pb": math.nan}
    sigma = sum(wi * s.sigma_mb for wi, s in zip(w, stats, strict=True)) / total
    err = math.sqrt(sum((wi * s.sigma_err_mb) ** 2 for wi, s in zip(w, stats, strict=True))) / total
    tried = sum(s.tried for s in stats)
    acc = sum(s.accepted for s in stats)
    eff = acc / tried if tried else 0.0
    eff_err = math.sqrt(eff * (1 - eff) / tried) if tried else 0.0
    decay = stats[0].decay_fraction
    xsec = sigma * eff * decay * MB_TO_PB
    rel = math.hypot(err / sigma if sigma else 0.0, eff_err / eff if eff else 0.0)
    out = {"xsec_pb": xsec, "xsec_err_pb": xsec * rel, "sigma_gen_pb": sigma * MB_TO_PB}
    if tried != acc:
        out["filter_efficiency"] = eff
    if decay != 1.0:
        out["decay_fraction"] = decay
    return out


def dataset_metadata(process: str, files: Sequence[FileSample]) -> dict[str, Any]:
    """``nevents``, ``xsec_pb``, ``xsec_err_pb`` (and the pT-hat bin bookkeeping) of a
    dataset made of ``files`` of ``process``."""
    from .processes import PROCESSES

    bins = PROCESSES[process].pthat_bins
    nevents = sum(f.events for f in files)
    per_file: dict[str, dict[str, Any]] = {
        f.stem: {
            "nevents": f.events,
            **combine_bins([s for s in f.stats if f.bin in (None, s.bin)]),
        }
        for f in files
    }
    meta: dict[str, Any] = {"events": nevents, "nevents": nevents}
    if bins and any(f.bin is None for f in files):  # every bin in one dataset
        combined = [
            combine_bins([s for f in files for s in f.stats if s.bin == b])
            for b in range(len(bins))
        ]
        meta.update(
            xsec_pb=None,
            xsec_err_pb=None,
            pthat_bins=[list(b) for b in bins],
            xsec_pb_per_bin=[c["xsec_pb"] for c in combined],
            xsec_err_pb_per_bin=[c["xsec_err_pb"] for c in combined],
            nevents_per_bin=[
                sum(s.used for f in files for s in f.stats if s.bin == b) for b in range(len(bins))
            ],
            pthat_bin_of_event="(event - 1) % len(pthat_bins): weight = xsec_pb_per_bin[b] * lumi / nevents_per_bin[b]",
        )
        for f in files:  # a mixed file's per-bin numbers, not one misleading total
            per_file[f.stem] = {
                "nevents": f.events,
                "xsec_pb_per_bin": [combine_bins([s])["xsec_pb"] for s in f.stats],
            }
    else:
        b = files[0].bin if files else None
        meta.update(combine_bins([s for f in files for s in f.stats if f.bin in (None, s.bin)]))
        if b is not None:
            meta["pthat_bin"] = list(bins[b])
    meta["files"] = per_file
    return meta
