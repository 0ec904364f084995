"""Where each layout keeps the per-object quantities (jets and e/gamma candidates).

One table, used by the processor, the training data loader and the frames CLI, so a
branch rename cannot leave one of them behind.
"""

from __future__ import annotations

from typing import Final, Literal

from .layouts import Layout

__all__ = ["EVENT_ID_BRANCHES", "OBJECT_BRANCHES", "object_branches"]

Kind = Literal["jet", "eg"]

OBJECT_BRANCHES: Final[dict[Layout, dict[str, str]]] = {
    "sparse": {
        "pt": "Jet_pt",
        "eta": "Jet_eta",
        "phi": "Jet_phi",
        "ieta": "Jet_seedIeta",
        "iphi": "Jet_seedIphi",
        "label": "Jet_label",
        "in_frame": "Jet_inFrame",
        "eg_pt": "EGamma_pt",
        "eg_eta": "EGamma_eta",
        "eg_row": "EGamma_seedRow",
        "eg_col": "EGamma_seedCol",
        "eg_energy": "EGamma_energy",
        "eg_label": "EGamma_label",
    },
    "e2e": {
        "pt": "jet_Pt",
        "eta": "jet_Eta",
        "phi": "jet_Phi",
        "ieta": "jetSeed_ieta",
        "iphi": "jetSeed_iphi",
        "label": "jet_label",
        "in_frame": "jet_inFrame",
        "eg_pt": "SC_pT",
        "eg_eta": "SC_eta",
        "eg_row": "SC_ieta",
        "eg_col": "SC_iphi",
        "eg_energy": "SC_E",
        "eg_label": "SC_label",
    },
}
"""Per layout: record quantity -> branch. ``eg_`` keys are the e/gamma candidates."""

EVENT_ID_BRANCHES: Final[dict[Layout, tuple[str, str, str]]] = {
    "sparse": ("run", "luminosityBlock", "event"),
    "e2e": ("runId", "lumiId", "eventId"),
}

_JET_KEYS = ("pt", "eta", "phi", "ieta", "iphi", "label", "in_frame")
_EG_KEYS = ("eg_pt", "eg_eta", "eg_row", "eg_col", "eg_energy", "eg_label")


def object_branches(channels: list[str] | str, layout: Layout, kind: Kind) -> list[str]:
    """Branches to read for frames of ``kind``: the channels' plus the object records'."""
    from .frames import required_branches

    need = required_branches(channels, layout, frame=kind)
    table = OBJECT_BRANCHES[layout]
    need += [table[k] for k in (_EG_KEYS if kind == "eg" else _JET_KEYS)]
    return list(dict.fromkeys(need))
