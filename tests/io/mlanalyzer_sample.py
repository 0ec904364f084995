"""Files that ROOT itself wrote with ONLY the branches CMS MLAnalyzer writes (the
``mlanalyzer`` fixture, which ``tests/io/conftest.py`` provides, and its reference crop).

As ``RecHitAnalyzer`` (task ``tau_classification``) fills them: every image and the seeds
``jetSeed_ieta``/``jetSeed_iphi`` as ``std::vector<float>``, ``jet_Pt``, ``jet_Eta``,
``jet_M``, ``jet_Energy`` and the truth flag ``jet_IsTau`` as ``std::vector<float>``, the
good-vertex count as a one-entry vector ``goodvertices``, and ``runId``/``lumiId``
(``unsigned int``) and ``eventId`` (``unsigned long long``). No ``jet_Phi``, no
``jet_label``, no ``jet_inFrame``, no ``SC_*``, no MET.

Each jet gets known deposits at known pixels relative to its seed, so a frame can be
checked pixel for pixel against a slow, explicit crop written here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from e2e_coffea.frames import resolve_channels
from e2e_coffea.io.root_vectors import have_root, write_root_vectors
from e2e_coffea.layouts import E2E_IMAGES

TAU13 = [s.name for s in resolve_channels("tau13", frame="jet")]
IMAGES = {s.name: s.e2e_branch for s in resolve_channels("tau13", frame="jet")}
OFFSETS = [(0, 0), (3, -2), (-10, 7), (40, 40), (-62, -62), (62, 62)]
"""Deposit positions relative to the window centre (row, col), corners included."""


@dataclass(frozen=True)
class JetTruth:
    event: int
    index: int
    ieta: int
    iphi: int
    pt: float
    eta: float
    is_tau: bool


@dataclass(frozen=True)
class MLAnalyzerSample:
    files: dict[str, Path]
    jets: dict[str, list[JetTruth]]
    images: dict[str, dict[str, np.ndarray]]  # dataset -> branch -> (n_events, H, W)
    fileset: Path


def _deposit(event: int, jet: int, channel: int, k: int) -> float:
    return float(1 + event + 0.25 * jet + 0.01 * channel + 0.001 * k)


def _make(
    rng: np.random.Generator, n_events: int, tau: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray], list[JetTruth]]:
    """One file's branches, its images and the truth of its jets."""
    images = {b: np.zeros((n_events, *E2E_IMAGES[b].shape), np.float32) for b in IMAGES.values()}
    seeds_e: list[list[float]] = []
    seeds_p: list[list[float]] = []
    cols: dict[str, list[list[float]]] = {
        k: [] for k in ("jet_Pt", "jet_Eta", "jet_M", "jet_Energy", "jet_IsTau")
    }
    truth = []
    # seeds: centre, near the wrap in phi, and windows leaving the grid at both eta ends
    choices = [(28, 30), (20, 71), (5, 10), (50, 0), (14, 36), (41, 2)]
    for e in range(n_events):
        n_jets = int(rng.integers(0, 4))
        se, sp = [], []
        ev: dict[str, list[float]] = {k: [] for k in cols}
        for j in range(n_jets):
            ieta, iphi = choices[(e + 2 * j) % len(choices)]
            pt = float([35.0, 12.0, 80.0][j % 3])  # the 12 GeV jets fail the pt cut
            eta = (ieta - 27.5) * 0.087
            is_tau = tau and j == 0
            se.append(float(ieta))
            sp.append(float(iphi))
            values = {
                "jet_Pt": pt,
                "jet_Eta": eta,
                "jet_M": 5.0,
                "jet_Energy": pt * np.cosh(eta),
                "jet_IsTau": float(is_tau),
            }
            for key, v in values.items():
                ev[key].append(v)
            truth.append(JetTruth(e, j, ieta, iphi, pt, eta, is_tau))
            r0, c0 = 5 * ieta + 2, 5 * iphi + 2
            for ci, name in enumerate(TAU13):
                img = images[IMAGES[name]][e]
                if name == "hcal":
                    img[ieta, iphi] += _deposit(e, j, ci, 0)
                    continue
                for k, (dr, dc) in enumerate(OFFSETS):
                    r, c = r0 + dr, (c0 + dc) % 360
                    if 0 <= r < 280:
                        img[r, c] += _deposit(e, j, ci, k)
        for key in cols:
            cols[key].append(ev[key])
        seeds_e.append(se)
        seeds_p.append(sp)
    branches: dict[str, Any] = {b: ak.Array(img.reshape(n_events, -1)) for b, img in images.items()}
    for key, v in (("jetSeed_ieta", seeds_e), ("jetSeed_iphi", seeds_p), *cols.items()):
        branches[key] = ak.values_astype(ak.Array(v, with_name=None), np.float32)
    branches["goodvertices"] = ak.Array([[float(20 + e)] for e in range(n_events)])
    return branches, images, truth


def reference_frame(images: dict[str, np.ndarray], event: int, ieta: int, iphi: int) -> np.ndarray:
    """The E2E crop written out slowly: a 125x125 window centred on (5*ieta+2, 5*iphi+2),
    phi wrapping, rows outside 0..279 zero; HCAL upsampled 5x5 with 1/25 per crystal."""
    out = np.zeros((len(TAU13), 125, 125), np.float32)
    for ci, name in enumerate(TAU13):
        img = images[IMAGES[name]][event]
        for i in range(125):
            r = 5 * ieta + 2 - 62 + i
            if not 0 <= r < 280:
                continue
            for k in range(125):
                c = (5 * iphi + 2 - 62 + k) % 360
                out[ci, i, k] = img[r // 5, c // 5] / 25 if name == "hcal" else img[r, c]
    return out


@pytest.fixture(scope="session")
def mlanalyzer(tmp_path_factory: pytest.TempPathFactory) -> MLAnalyzerSample:
    if not have_root():
        pytest.fail("these tests need PyROOT to write files as CMSSW does: pip install root")
    root = tmp_path_factory.mktemp("mlanalyzer")
    rng = np.random.default_rng(11)
    files, jets, images = {}, {}, {}
    fileset = {}
    for ds, tau, n in (("dy", True, 9), ("qcd", False, 7)):
        branches, imgs, truth = _make(rng, n, tau)
        path = root / f"{ds}.root"
        scalars = {
            "runId": np.ones(n, np.uint32),
            "lumiId": np.full(n, 3, np.uint32),
            "eventId": np.arange(1, n + 1, dtype=np.uint64) + (1000 if tau else 0),
        }
        assert write_root_vectors(path, branches, scalars=scalars) == n
        files[ds], jets[ds], images[ds] = path, truth, imgs
        fileset[ds] = {"files": {str(path): "fevt/RHTree"}, "metadata": {"process": ds}}
    fs = root / "fileset.json"
    fs.write_text(json.dumps(fileset))
    return MLAnalyzerSample(files, jets, images, fs)
