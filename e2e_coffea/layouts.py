"""The two on-disk layouts, named once so writer, readers and frame builders cannot drift.

* **e2e**: the CMS MLAnalyzer ntuple, tree ``fevt/RHTree``; every image is a flat,
  row-major (eta rows, phi columns) vector of floats, one per event.
* **sparse**: our NanoAOD-style layout, tree ``Events``; jagged collections with ``n``
  counters (``nEcalHit``, ``EcalHit_row`` ...), readable with coffea's ``BaseSchema``.

Both carry the same information: the dense e2e images are the sparse hits scattered
onto the grids of :mod:`e2e_coffea.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeGuard

from . import geometry as geo

__all__ = [
    "E2E_EVENT_BRANCHES",
    "E2E_FATJET_BRANCHES",
    "E2E_IMAGES",
    "E2E_JET_BRANCHES",
    "E2E_SC_BRANCHES",
    "E2E_TREE",
    "EVENT_ID_BRANCHES",
    "FLAVOUR_LABELS",
    "LABELS",
    "LABEL_IDS",
    "LAYOUTS",
    "OBJECT_BRANCHES",
    "OBJECT_KINDS",
    "SPARSE_COLLECTIONS",
    "SPARSE_EVENT_BRANCHES",
    "SPARSE_TREE",
    "TRUTH_FLAGS",
    "FrameKind",
    "ImageSpec",
    "Layout",
    "ObjectKind",
    "frame_of",
    "is_layout",
    "is_object_kind",
    "layout_of_tree",
    "tracker_image_name",
]

Layout = Literal["e2e", "sparse"]
ObjectKind = Literal["jet", "fatjet", "eg"]
"""``jet``: anti-kt R = 0.4 jets, 125x125 windows around an HCAL seed tower; ``fatjet``:
anti-kt R = 0.8 jets (NanoAOD's ``FatJet``), the same 125x125 window on the tower of the
jet axis; ``eg``: 32x32 EB crops."""
FrameKind = Literal["jet", "eg"]
"""The window geometry an object kind's frames use: ``jet`` (125x125, tower-aligned) or
``eg`` (32x32 crystals)."""
LAYOUTS: Final[tuple[Layout, ...]] = ("e2e", "sparse")
OBJECT_KINDS: Final[tuple[ObjectKind, ...]] = ("jet", "fatjet", "eg")
_FRAME_OF: Final[dict[str, FrameKind]] = {"jet": "jet", "fatjet": "jet", "eg": "eg"}


def frame_of(kind: str) -> FrameKind:
    """The window geometry of ``kind``: R = 0.4 and R = 0.8 jets share the jet window.

    >>> frame_of("fatjet"), frame_of("eg")
    ('jet', 'eg')
    """
    return _FRAME_OF.get(kind, "jet")


def is_layout(name: object) -> TypeGuard[Layout]:
    """Whether ``name`` is a :data:`Layout`; narrows a user's string for the type checker."""
    return name in LAYOUTS


def is_object_kind(name: object) -> TypeGuard[ObjectKind]:
    """Whether ``name`` is an :data:`ObjectKind`; narrows a user's string like :func:`is_layout`."""
    return name in OBJECT_KINDS


E2E_TREE: Final = "fevt/RHTree"
SPARSE_TREE: Final = "Events"

# --- truth labels -------------------------------------------------------------------
LABELS: Final[dict[int, str]] = {
    -2: "unlabelled",
    -1: "unmatched",
    0: "quark",
    1: "gluon",
    2: "tau",
    3: "electron",
    4: "photon",
    5: "top",
    6: "other",
    7: "b",
    8: "c",
    9: "light",
}
"""Jet and e/gamma truth labels. ``quark`` is any u/d/s/c/b leading parton.

``unlabelled``: the file carries no truth at all (data, or an ntuple without truth
branches). ``other``: the file's truth flags (MLAnalyzer's ``jet_IsTau``, ``jet_IsEle``)
say the object is none of the flagged classes, without saying what it is. ``b``/``c``/``light``: R = 0.4 jets labelled by their hadron
flavour (:data:`FLAVOUR_LABELS`) for the b-tagging task, never written to files."""
LABEL_IDS: Final[dict[str, int]] = {v: k for k, v in LABELS.items()}

FLAVOUR_LABELS: Final[dict[int, str]] = {5: "b", 4: "c", 0: "light"}
"""``Jet_hadronFlavour`` (B hadron 5, else D hadron 4, else 0; sim/flavour.py, as CMS
defines it) -> the class name a b-tagging task uses for it."""


@dataclass(frozen=True)
class ImageSpec:
    """One dense e2e image: its branch and the grid it lives on."""

    branch: str
    shape: tuple[int, int]


def tracker_image_name(layer: str) -> str:
    """MLAnalyzer's branch for a tracker layer's hit-count image, e.g. ``BPIX_layer1_ECAL_atPV``."""
    det, num = layer[:-1].upper(), layer[-1]
    return f"{det}_layer{num}_ECAL_atPV"


E2E_IMAGES: Final[dict[str, ImageSpec]] = {
    "EB_energy": ImageSpec("EB_energy", geo.EB_SHAPE),
    "EB_time": ImageSpec("EB_time", geo.EB_SHAPE),
    "ECAL_energy": ImageSpec("ECAL_energy", geo.ECAL_SHAPE),
    "HBHE_energy": ImageSpec("HBHE_energy", geo.HCAL_SHAPE),
    "ECAL_tracksPt_atECALfixIP": ImageSpec("ECAL_tracksPt_atECALfixIP", geo.ECAL_SHAPE),
    "ECAL_tracksD0_atECALfixIP": ImageSpec("ECAL_tracksD0_atECALfixIP", geo.ECAL_SHAPE),
    "ECAL_tracksDz_atECALfixIP": ImageSpec("ECAL_tracksDz_atECALfixIP", geo.ECAL_SHAPE),
    "ECAL_tracksD0Sig_atECALfixIP": ImageSpec("ECAL_tracksD0Sig_atECALfixIP", geo.ECAL_SHAPE),
    "ECAL_tracksDzSig_atECALfixIP": ImageSpec("ECAL_tracksDzSig_atECALfixIP", geo.ECAL_SHAPE),
    **{
        tracker_image_name(layer): ImageSpec(tracker_image_name(layer), geo.ECAL_SHAPE)
        for layer in geo.TRACKER_LAYERS
    },
}
"""Dense per-event images of the e2e layout, each a flat float vector of shape[0]*shape[1]."""

E2E_JET_BRANCHES: Final = (
    "jetSeed_ieta",  # HCAL row 0..55 of the seed tower
    "jetSeed_iphi",  # HCAL column 0..71
    "jet_Pt",
    "jet_Eta",
    "jet_Phi",
    "jet_M",
    "jet_IsTau",
    "jet_IsEle",
    "jet_label",  # LABELS id
    "jet_inFrame",  # 1 if the 125x125 window lies inside rows 0..279
    "jet_hadronFlavour",  # ours: 5 b, 4 c, 0 light (sim/flavour.py); not in MLAnalyzer
    "jet_partonFlavour",  # ours, as Jet_partonFlavour
)
E2E_FATJET_BRANCHES: Final = (
    # ours (MLAnalyzer has no large-radius jets): the FatJet collection, named like jet_*
    "fatjetSeed_ieta",
    "fatjetSeed_iphi",
    "fatjet_Pt",
    "fatjet_Eta",
    "fatjet_Phi",
    "fatjet_M",
    "fatjet_MSoftDrop",
    "fatjet_label",
    "fatjet_genM",
    "fatjet_genMSoftDrop",
)
E2E_SC_BRANCHES: Final = (
    "SC_ieta",  # EB row 0..169 of the seed crystal
    "SC_iphi",  # EB column 0..359
    "SC_E",
    "SC_pT",
    "SC_eta",
    "SC_phi",
    "SC_label",
)
E2E_EVENT_BRANCHES: Final = (
    "runId",
    "lumiId",
    "eventId",
    "MET_pt",
    "MET_phi",
    "MET_sumET",
    "nVtx",
    "Vtx_x",
    "Vtx_y",
    "Vtx_z",
    # ours (not in MLAnalyzer ntuples), named as NanoAOD names them
    "Pileup_nPU",
    "Pileup_nTrueInt",
    "Generator_binvar",
    "genWeight",
)

# --- sparse layout --------------------------------------------------------------------
SPARSE_COLLECTIONS: Final[dict[str, tuple[str, ...]]] = {
    # ECAL crystals above zero suppression, on the 280x360 ECAL grid; time in ns.
    "EcalHit": ("row", "col", "energy", "time"),
    # HCAL towers above zero suppression, on the 56x72 HCAL grid.
    "HcalHit": ("ieta", "iphi", "energy"),
    # Reconstructed tracks; row/col is the ECAL-grid cell hit at the ECAL face from a
    # fixed IP (-1 if the track does not reach it), d0/dz in cm, sig = value / error.
    "Track": (
        "pt",
        "eta",
        "phi",
        "charge",
        "etaAtEcal",
        "phiAtEcal",
        "row",
        "col",
        "d0",
        "dz",
        "d0sig",
        "dzsig",
    ),
    # Tracker hits projected on the ECAL grid as seen from the PV; layer indexes
    # geometry.TRACKER_LAYERS (0 = bpix1 ... 7 = tob2).
    "TrackerHit": ("layer", "row", "col"),
    # anti-kt R=0.4 jets; seed = most energetic HCAL tower in 7x7 around the axis;
    # genPt/genMass of the GenJet within dR < 0.2, genVisTauPt of the GenVisTau within
    # dR < 0.4 (-1: none). hadronFlavour (5 b, 4 c, 0 light) and partonFlavour as CMS
    # defines them (sim/flavour.py).
    "Jet": (
        "pt",
        "eta",
        "phi",
        "mass",
        "seedIeta",
        "seedIphi",
        "label",
        "isTau",
        "isEle",
        "inFrame",
        "genPt",
        "genMass",
        "genVisTauPt",
        "hadronFlavour",
        "partonFlavour",
    ),
    "GenJet": ("pt", "eta", "phi", "mass"),
    # anti-kt R=0.8 CaloTower jets above 150 GeV (sim/fatjets.py): msoftdrop (z_cut 0.1,
    # beta 0); the seed is the HCAL tower of the jet axis; label "top" = fully merged
    # (b, q, q' within dR < 0.8), "other" = near a top but not merged; gen* of the
    # GenJetAK8 within dR < 0.4 (-1: none).
    "FatJet": (
        "pt",
        "eta",
        "phi",
        "mass",
        "msoftdrop",
        "seedIeta",
        "seedIphi",
        "label",
        "inFrame",
        "genPt",
        "genMass",
        "genMSoftDrop",
    ),
    "GenJetAK8": ("pt", "eta", "phi", "mass"),
    # e/gamma candidates (ECAL clusters); seedRow/seedCol on the 170x360 EB grid.
    "EGamma": ("seedRow", "seedCol", "energy", "pt", "eta", "phi", "label"),
    # Selected generator truth: hard-process partons, W/Z/top, taus, prompt e/gamma.
    "GenPart": ("pdgId", "pt", "eta", "phi", "mass", "vx", "vy", "vz"),
    # Hadronic taus: visible momentum and prongs.
    "GenVisTau": ("pt", "eta", "phi", "nProngs", "nPi0"),
}
SPARSE_EVENT_BRANCHES: Final = (
    "run",
    "luminosityBlock",
    "event",
    "MET_pt",
    "MET_phi",
    "MET_sumET",
    "PV_x",
    "PV_y",
    "PV_z",
    "nVtx",
    "Pileup_nPU",
    "Pileup_nTrueInt",  # the Poisson mean the pile-up count was drawn from, as NanoAOD
    "Generator_binvar",  # pT-hat of the hard process (GeV), as NanoAOD
    "genWeight",  # the generator's event weight (1 for our unweighted samples)
)


# --- the one branch table: where each layout keeps the per-object quantities ------------
OBJECT_BRANCHES: Final[dict[Layout, dict[ObjectKind, dict[str, str]]]] = {
    "sparse": {
        "jet": {
            "seed_row": "Jet_seedIeta", "seed_col": "Jet_seedIphi", "pt": "Jet_pt",
            "eta": "Jet_eta", "phi": "Jet_phi", "mass": "Jet_mass", "label": "Jet_label",
            "is_tau": "Jet_isTau", "is_ele": "Jet_isEle", "gen_pt": "Jet_genPt",
            "gen_mass": "Jet_genMass", "gen_vis_tau_pt": "Jet_genVisTauPt",
            "hadron_flavour": "Jet_hadronFlavour", "parton_flavour": "Jet_partonFlavour",
        },
        "fatjet": {
            "seed_row": "FatJet_seedIeta", "seed_col": "FatJet_seedIphi", "pt": "FatJet_pt",
            "eta": "FatJet_eta", "phi": "FatJet_phi", "mass": "FatJet_mass",
            "msoftdrop": "FatJet_msoftdrop", "label": "FatJet_label", "gen_pt": "FatJet_genPt",
            "gen_mass": "FatJet_genMass", "gen_msoftdrop": "FatJet_genMSoftDrop",
        },
        "eg": {
            "seed_row": "EGamma_seedRow", "seed_col": "EGamma_seedCol", "pt": "EGamma_pt",
            "eta": "EGamma_eta", "phi": "EGamma_phi", "energy": "EGamma_energy",
            "label": "EGamma_label",
        },
    },
    "e2e": {
        "jet": {
            "seed_row": "jetSeed_ieta", "seed_col": "jetSeed_iphi", "pt": "jet_Pt",
            "eta": "jet_Eta", "phi": "jet_Phi", "mass": "jet_M", "energy": "jet_Energy",
            "label": "jet_label", "is_tau": "jet_IsTau", "is_ele": "jet_IsEle",
            "hadron_flavour": "jet_hadronFlavour", "parton_flavour": "jet_partonFlavour",
        },
        "fatjet": {
            "seed_row": "fatjetSeed_ieta", "seed_col": "fatjetSeed_iphi", "pt": "fatjet_Pt",
            "eta": "fatjet_Eta", "phi": "fatjet_Phi", "mass": "fatjet_M",
            "msoftdrop": "fatjet_MSoftDrop", "label": "fatjet_label", "gen_mass": "fatjet_genM",
            "gen_msoftdrop": "fatjet_genMSoftDrop",
        },
        "eg": {
            "seed_row": "SC_ieta", "seed_col": "SC_iphi", "pt": "SC_pT", "eta": "SC_eta",
            "phi": "SC_phi", "energy": "SC_E", "label": "SC_label",
        },
    },
}  # fmt: skip
"""Per layout and object kind: quantity -> branch. Only ``seed_row``/``seed_col`` are
required (the frame needs its seed); every other quantity is optional and is filled with
a documented stand-in when a file lacks it (:mod:`e2e_coffea.frames.objects`). Jet seeds
are HCAL towers (56x72 grid), e/gamma seeds EB crystals (170x360). Whether a window lies
inside the grid is computed from the seed, never read (``jet_inFrame`` is ours only).
``gen_pt``/``gen_mass`` are the matched generator jet's and ``gen_vis_tau_pt`` the visible
pT of the matched generator tau: the truths of regression taggers (read only for them;
our generator writes them as ``Jet_genPt``, ``Jet_genMass``, ``Jet_genVisTauPt``, -1 when
unmatched). FatJets (``fatjet``) carry ``msoftdrop`` and the GenJetAK8's ``gen_mass`` /
``gen_msoftdrop``; R = 0.4 jets ``hadron_flavour`` (the b-tagging truth)."""

TRUTH_FLAGS: Final[dict[str, str]] = {"is_tau": "tau", "is_ele": "electron"}
"""MLAnalyzer's per-jet truth flags and the label a set flag means, in priority order."""

EVENT_ID_BRANCHES: Final[dict[Layout, tuple[str, str, str]]] = {
    "sparse": ("run", "luminosityBlock", "event"),
    "e2e": ("runId", "lumiId", "eventId"),
}
"""(run, lumi, event) per layout: the deterministic train/val/test split hashes them."""


def layout_of_tree(treename: str) -> Layout:
    """The layout a file's tree belongs to: ``fevt/RHTree`` is e2e, anything else sparse.

    >>> layout_of_tree("fevt/RHTree"), layout_of_tree("Events")
    ('e2e', 'sparse')
    """
    return "e2e" if treename.strip("/") == E2E_TREE else "sparse"
