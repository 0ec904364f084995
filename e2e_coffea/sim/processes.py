"""Physics processes, named so that a physicist recognises them, as Pythia 8 cards.

Every card runs on top of :data:`COMMON_SETTINGS` (13 TeV pp, default Monash tune with
MPI, CMS-style stable-particle definition). Cards with several pT-hat bins give event
number ``n`` (0-based within the sample) to bin ``n % len(bins)``: the sample is an
equal mix of the bins, and the bin of any event follows from its number alone
(:func:`pthat_bin_of_event`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .record import GenRecord

__all__ = [
    "COMMON_SETTINGS",
    "MINBIAS_SETTINGS",
    "PROCESSES",
    "QG_PTHAT_BINS",
    "ProcessCard",
    "em_enriched_filter",
    "pthat_bin_of_event",
]

COMMON_SETTINGS: tuple[str, ...] = (
    "Beams:eCM = 13000",
    "Print:quiet = on",
    "Next:numberCount = 0",
    # CMS leaves particles with c tau > 10 mm (K0S, Lambda, ...) to the detector
    # simulation [CMS Pythia8CommonSettings_cfi]; here they reach the calorimeters.
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10",
)
MINBIAS_SETTINGS: tuple[str, ...] = ("SoftQCD:inelastic = on",)

EM_FILTER_PT = 15.0
EM_FILTER_ETA = 2.4


def em_enriched_filter(rec: GenRecord) -> npt.NDArray[np.bool_]:
    """Events with a photon, electron, pi0 or eta meson of pT > 15 GeV in |eta| < 2.4.

    Generator-level, like CMS's EM-enriched QCD samples (which also ask for isolation;
    we do not). Checked on all record entries, so decayed pi0/eta count too.
    """
    a = np.abs(rec.id)
    pt = np.hypot(rec.px, rec.py)
    eta = np.arcsinh(rec.pz / np.maximum(pt, 1e-12))
    em = np.isin(a, (11, 22, 111, 221)) & (pt > EM_FILTER_PT) & (np.abs(eta) < EM_FILTER_ETA)
    return np.bincount(rec.event[em], minlength=rec.n_events) > 0


@dataclass(frozen=True)
class ProcessCard:
    """One named process: Pythia settings, optional pT-hat bins and generator filter."""

    name: str
    description: str
    settings: tuple[str, ...]
    pthat_bins: tuple[tuple[float, float], ...] = ()
    event_filter: Callable[[GenRecord], npt.NDArray[np.bool_]] | None = None
    restricted_decays: tuple[tuple[int, int], ...] = ()
    """(PDG id, how many per event) of non-resonances whose decays the card switches off
    in part: they decay at hadron level, so Pythia's ``sigmaGen`` does not include their
    branching fractions and the sample's cross-section needs them (see sim/xsec.py)."""

    def bin_settings(self) -> list[tuple[str, ...]]:
        """Full Pythia settings of each generator instance (one per pT-hat bin)."""
        base = COMMON_SETTINGS + self.settings
        if not self.pthat_bins:
            return [base]
        return [
            (*base, f"PhaseSpace:pTHatMin = {lo:g}", f"PhaseSpace:pTHatMax = {hi:g}")
            for lo, hi in self.pthat_bins
        ]


def pthat_bin_of_event(process: str, event_index: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """pT-hat bin (index into ``PROCESSES[process].pthat_bins``) of 0-based events."""
    n_bins = max(len(PROCESSES[process].pthat_bins), 1)
    return np.asarray(event_index, dtype=np.int64) % n_bins


QG_PTHAT_BINS: tuple[tuple[float, float], ...] = ((80, 150), (150, 250), (250, 400))
"""pT-hat bins [GeV] of ``quark`` and ``gluon``: an equal mix, so that their calo jets
(pT ~ 0.75-0.8 of the generator jet's) fill 70-340 GeV, the jet pT range of the public
E2E quark/gluon dataset [Andrews et al., NIM A 977 (2020) 164304, arXiv:1902.08276]:
~0.77 jets per event in that range with the quark (gluon) label."""

_DY = ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "PhaseSpace:mHatMin = 60")

PROCESSES: dict[str, ProcessCard] = {
    card.name: card
    for card in (
        ProcessCard(
            "tau",
            "Drell-Yan Z/gamma* -> tau tau (m > 60 GeV), hadronic tau decays only",
            # Leptonic tau decays off: both taus decay to hadrons + nu.
            (*_DY, "23:onIfAny = 15", "15:offIfAny = 11 13"),
            restricted_decays=((15, 2),),
        ),
        ProcessCard(
            "qcd",
            "QCD dijets (HardQCD:all) in pT-hat bins 30-80, 80-170, 170-300, 300-600 GeV",
            ("HardQCD:all = on",),
            # the 300-600 bin gives calo jets at the boosted top jets' pT (150-500 GeV)
            pthat_bins=((30, 80), (80, 170), (170, 300), (300, 600)),
        ),
        ProcessCard(
            # QCD for R = 0.8 jets above 400 GeV (the boosted top task): calo FatJets carry
            # ~0.8 of the parton pT, so the qcd card's 300-600 GeV bin barely reaches them.
            # Bins as CMS's QCD_Pt_300to470 and QCD_Pt_470to600 + 600to800 samples (Run 2
            # RunIISummer20UL QCD_Pt_*_TuneCP5_13TeV_pythia8), the last two merged. A card
            # of its own, so the qcd card's bins (and its samples' bin of each event) stay.
            "qcd_boosted",
            "QCD dijets (HardQCD:all) in pT-hat bins 300-470, 470-800 GeV, for FatJets > 400 GeV",
            ("HardQCD:all = on",),
            pthat_bins=((300, 470), (470, 800)),
        ),
        ProcessCard(
            "qcd_em",
            "EM-enriched QCD: dijets (pT-hat 50-80, 80-170 GeV) with a "
            "generator-level e/gamma/pi0/eta of pT > 15 GeV in |eta| < 2.4",
            ("HardQCD:all = on",),
            pthat_bins=((50, 80), (80, 170)),
            event_filter=em_enriched_filter,
        ),
        ProcessCard(
            # The physical source of jets faking hadronic taus beside QCD multijets
            # (CMS tau ID, JINST 17 (2022) P07023, Sec. 5: W+jets is the quark-enriched,
            # isolated fake source). W -> e nu / mu nu only, so no real tau is in the
            # sample and every tau-candidate jet is a fake; the W's recoil gives the jets.
            "wjets",
            "W + jet (qqbar -> W g, q g -> W q), pT-hat > 20 GeV, W -> e nu / mu nu",
            (
                "WeakBosonAndParton:qqbar2Wg = on",
                "WeakBosonAndParton:qg2Wq = on",
                "PhaseSpace:pTHatMin = 20",
                "24:onMode = off",
                "24:onIfAny = 11 13",
            ),
        ),
        ProcessCard(
            "electron",
            "Drell-Yan Z/gamma* -> e e (m > 60 GeV)",
            (*_DY, "23:onIfAny = 11"),
        ),
        ProcessCard(
            "photon",
            "prompt photon + jet (PromptPhoton:all), pT-hat > 30 GeV",
            ("PromptPhoton:all = on", "PhaseSpace:pTHatMin = 30"),
        ),
        ProcessCard(
            # In the spirit of the E2E quark/gluon study [Andrews et al., NIM A 977 (2020)
            # 164304, arXiv:1902.08276]: hard-QCD subprocesses with only quarks (or only
            # gluons) outgoing, in pT-hat bins whose calo jets (response ~0.75-0.8) cover
            # the jet pT range of its public dataset, ~70-340 GeV (QG_PTHAT_BINS).
            "quark",
            "quark-enriched dijets: qq -> qq, qqbar -> qqbar, gg -> qqbar, "
            "pT-hat bins 80-150, 150-250, 250-400 GeV",
            ("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:gg2qqbar = on"),
            pthat_bins=QG_PTHAT_BINS,
        ),
        ProcessCard(
            "gluon",
            "gluon-enriched dijets: gg -> gg, qqbar -> gg, pT-hat bins 80-150, 150-250, 250-400 GeV",
            ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
            pthat_bins=QG_PTHAT_BINS,
        ),
        ProcessCard(
            "top",
            "boosted ttbar (gg, qqbar -> ttbar), pT-hat > 400 GeV, hadronic W decays",
            (
                "Top:gg2ttbar = on",
                "Top:qqbar2ttbar = on",
                "PhaseSpace:pTHatMin = 400",
                "24:onMode = off",
                "24:onIfAny = 1 2 3 4 5",
            ),
        ),
    )
}
"""All processes by name; see docs/detector.md for the physics choices."""
