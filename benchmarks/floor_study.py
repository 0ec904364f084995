"""Why a tagger stops where it stops: single-feature and combined-feature AUCs on the same
objects the shipped taggers are measured on, and what the simulation's material gives.

e/gamma (photon vs electron, EB candidates in the eg task's range): shower-shape features
of the 32x32 crop (energy-weighted phi and eta widths, E3x3/E5x5, E1/E5x5, the energy
outside the 5x5), the time channel (energy-weighted crystal time), and what ECAL alone
cannot see: a track pointing at the seed (E/p, track pT). Then every ECAL feature
together and ECAL + track through a gradient-boosted classifier (scikit-learn, 50/50
split): the best a classifier of these features reaches. Finally the same features on
events simulated without tracker material (no brem, no conversions): what separation
is left when electrons and photons differ only by the electron's own bending.

quark/gluon (jets in the qg task's range): charged-track multiplicity (pT > 1 GeV, dR <
0.4), the pT-weighted track width, the ECAL crystal multiplicity and energy-weighted
ECAL width, in bins of jet pT and over the range, and all of them combined.

    python benchmarks/floor_study.py --eg-files PHOTON.root... --eg-background ELECTRON.root...
        --qg-files QUARK.root... --qg-background GLUON.root... [--ablation-events 3000]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from e2e_coffea import geometry as geo
from e2e_coffea.frames import build_eg_frames, select_objects
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.train.tasks.definitions import get_task

CROP = 32
SEED = 15  # the seed crystal's row and column in the crop


def auc(y: np.ndarray, x: np.ndarray) -> float:
    """The AUC of a feature used in its better direction (NaN with one class only)."""
    if len(np.unique(y)) < 2:
        return float("nan")
    a = float(roc_auc_score(y, x))
    return max(a, 1.0 - a)


def auc_err(a: float, n1: int, n0: int) -> float:
    """Hanley & McNeil, Radiology 143 (1982) 29."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return float(
        np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    )


def combined(features: dict[str, np.ndarray], y: np.ndarray, names: list[str]) -> float:
    """Test AUC of a gradient-boosted classifier of ``names``, trained on half the objects."""
    x = np.stack([features[n] for n in names], 1)
    rng = np.random.default_rng(0)
    train = rng.random(len(y)) < 0.5
    clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)
    clf.fit(x[train], y[train])
    return float(roc_auc_score(y[~train], clf.predict_proba(x[~train])[:, 1]))


# --- e/gamma ---------------------------------------------------------------------------
def eg_features(chunk: Any, label: str) -> dict[str, np.ndarray]:
    """Shape, time and track features of the eg task's candidates with truth ``label``."""
    task = get_task("eg")
    sel = select_objects(chunk, "sparse", "eg", task.cuts())
    keep = sel.passed & (sel.records.label == LABEL_IDS[label])
    rows = np.flatnonzero(keep)
    from e2e_coffea.frames.records import ObjectSelection

    objs = ObjectSelection(sel.records.event[rows], sel.records.index[rows])
    frames, rec = build_eg_frames(chunk, layout="sparse", channels=("eb_energy", "eb_time", "track_pt"),
                                  objects=objs, norm="none")  # fmt: skip
    e, t, trk = frames[:, 0].astype(np.float64), frames[:, 1].astype(np.float64), frames[:, 2]
    d = np.arange(CROP) - SEED
    tot = e.sum((1, 2))
    col_e, row_e = e.sum(1), e.sum(2)
    mean_c = (col_e * d).sum(1) / tot
    mean_r = (row_e * d).sum(1) / tot
    e5 = e[:, SEED - 2 : SEED + 3, SEED - 2 : SEED + 3].sum((1, 2))
    e3 = e[:, SEED - 1 : SEED + 2, SEED - 1 : SEED + 2].sum((1, 2))
    p3 = trk[:, SEED - 2 : SEED + 3, SEED - 2 : SEED + 3].astype(np.float64).sum((1, 2))
    return {
        "phi_width": np.sqrt(np.maximum((col_e * d**2).sum(1) / tot - mean_c**2, 0)),
        "eta_width": np.sqrt(np.maximum((row_e * d**2).sum(1) / tot - mean_r**2, 0)),
        "r9": e3 / e5,
        "seed_fraction": e[:, SEED, SEED] / e5,
        "outside_5x5": 1 - e5 / tot,
        "time": (e * t).sum((1, 2)) / tot,
        "track_pt_5x5": p3,
        "e_over_p": e5 / np.maximum(p3, 1e-3),
        "pt": np.asarray(rec.pt, np.float64),
        "abs_eta": np.abs(np.asarray(rec.eta, np.float64)),
    }


ECAL = ["phi_width", "eta_width", "r9", "seed_fraction", "outside_5x5", "time"]


def eg_table(sig: dict[str, np.ndarray], bkg: dict[str, np.ndarray], title: str) -> list[str]:
    y = np.r_[np.ones(len(sig["pt"])), np.zeros(len(bkg["pt"]))]
    f = {k: np.r_[sig[k], bkg[k]] for k in sig}
    n1, n0 = len(sig["pt"]), len(bkg["pt"])
    out = [f"== {title}: {n1} photons vs {n0} electrons (EB, {get_task('eg').range})"]
    for name in [*ECAL, "track_pt_5x5", "e_over_p"]:
        a = auc(y, f[name])
        out.append(f"  {name:15s} AUC {a:.3f} ± {auc_err(a, n1, n0):.3f}   medians photon "
                   f"{np.median(sig[name]):.3f} electron {np.median(bkg[name]):.3f}")  # fmt: skip
    for lo, hi in ((0.0, 0.5), (0.5, 1.0), (1.0, 1.45)):
        s = (f["abs_eta"] >= lo) & (f["abs_eta"] < hi)
        out.append(
            f"  phi_width in |eta| {lo}-{hi}: AUC {auc(y[s], f['phi_width'][s]):.3f} ({s.sum()} objects)"
        )
    out.append(f"  ECAL features combined (BDT, test half): AUC {combined(f, y, ECAL):.3f}")
    out.append(
        f"  ECAL + pT, |eta|  combined:              AUC {combined(f, y, [*ECAL, 'pt', 'abs_eta']):.3f}"
    )
    out.append(
        f"  ECAL + track combined:                   AUC {combined(f, y, [*ECAL, 'track_pt_5x5', 'e_over_p']):.3f}"
    )
    return out


def read(files: list[Path]) -> Any:
    return ak.concatenate([uproot.open(p)["Events"].arrays() for p in files])


def simulated(process: str, n: int, seed: int, material: bool) -> Any:
    """A sparse-layout chunk straight from the generator, with or without material."""
    from e2e_coffea.io.sparse import flatten_collections
    from e2e_coffea.sim import DEFAULT_PARAMS, simulate_events

    params = (
        DEFAULT_PARAMS
        if material
        else dataclasses.replace(DEFAULT_PARAMS, brem=False, conversions=False)
    )
    return flatten_collections(simulate_events(process, n, seed=seed, params=params))


# --- quark/gluon -------------------------------------------------------------------------
def qg_features(chunk: Any, label: str) -> dict[str, np.ndarray]:
    task = get_task("qg")
    sel = select_objects(chunk, "sparse", "jet", task.cuts())
    rec = sel.records
    keep = np.flatnonzero(sel.passed & (rec.label == LABEL_IDS[label]))
    ev, eta, phi, pt = rec.event[keep], rec.eta[keep], rec.phi[keep], rec.pt[keep]
    out: dict[str, list[float]] = {
        k: [] for k in ("n_tracks", "track_width", "n_ecal", "ecal_width")
    }
    trk_pt, trk_eta, trk_phi = chunk["Track_pt"], chunk["Track_eta"], chunk["Track_phi"]
    ecal_row, ecal_col, ecal_e = chunk["EcalHit_row"], chunk["EcalHit_col"], chunk["EcalHit_energy"]
    for e, j_eta, j_phi in zip(ev, eta, phi, strict=True):
        tp, te, tf = (np.asarray(a[e], np.float64) for a in (trk_pt, trk_eta, trk_phi))
        dr = np.hypot(te - j_eta, geo.wrap_phi(tf - j_phi))
        m = (dr < 0.4) & (tp > 1.0)
        out["n_tracks"].append(m.sum())
        out["track_width"].append((tp[m] * dr[m]).sum() / max(tp[m].sum(), 1e-9))
        r, c, en = (np.asarray(a[e]) for a in (ecal_row, ecal_col, ecal_e))
        de = geo.eta_of_row(r) - j_eta
        dp = geo.wrap_phi(geo.phi_of_col(c) - j_phi)
        dr_e = np.hypot(de, dp)
        m = (dr_e < 0.4) & (en > 0.5)
        out["n_ecal"].append(m.sum())
        out["ecal_width"].append((en[m] * dr_e[m]).sum() / max(en[m].sum(), 1e-9))
    f = {k: np.asarray(v, np.float64) for k, v in out.items()}
    f["pt"] = np.asarray(pt, np.float64)
    return f


def qg_table(sig: dict[str, np.ndarray], bkg: dict[str, np.ndarray]) -> list[str]:
    y = np.r_[np.ones(len(sig["pt"])), np.zeros(len(bkg["pt"]))]
    f = {k: np.r_[sig[k], bkg[k]] for k in sig}
    r = get_task("qg").range
    out = [f"== quark/gluon: {len(sig['pt'])} quark vs {len(bkg['pt'])} gluon jets ({r})"]
    names = ["n_tracks", "track_width", "n_ecal", "ecal_width"]
    bins = [(r.pt_min, 100.0), (100.0, 150.0), (150.0, 200.0), (200.0, r.pt_max)]
    out.append("  feature        all     " + "  ".join(f"{lo:g}-{hi:g}" for lo, hi in bins))
    for name in names:
        cells = []
        for lo, hi in bins:
            s = (f["pt"] > lo) & (f["pt"] <= hi)
            cells.append(f"{auc(y[s], f[name][s]):.3f}")
        out.append(f"  {name:13s}  {auc(y, f[name]):.3f}   " + "   ".join(cells))
    out.append(
        f"  all four + pT combined (BDT, test half): AUC {combined(f, y, [*names, 'pt']):.3f}"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--eg-files", nargs="*", type=Path, default=[])
    ap.add_argument("--eg-background", nargs="*", type=Path, default=[])
    ap.add_argument("--qg-files", nargs="*", type=Path, default=[])
    ap.add_argument("--qg-background", nargs="*", type=Path, default=[])
    ap.add_argument("--ablation-events", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # widths of empty crops
    t0 = time.perf_counter()
    lines: list[str] = []
    if args.eg_files:
        sig = eg_features(read(args.eg_files), "photon")
        bkg = eg_features(read(args.eg_background), "electron")
        lines += eg_table(sig, bkg, "e/gamma, held-out files")
    if args.ablation_events:
        for material in (True, False):
            n = args.ablation_events
            sig = eg_features(simulated("photon", n, 7, material), "photon")
            bkg = eg_features(simulated("electron", n, 8, material), "electron")
            what = "with" if material else "WITHOUT"
            lines += eg_table(
                sig, bkg, f"e/gamma, {n} generated events per process {what} tracker material"
            )
    if args.qg_files:
        lines += qg_table(
            qg_features(read(args.qg_files), "quark"),
            qg_features(read(args.qg_background), "gluon"),
        )
    lines.append(f"({time.perf_counter() - t0:.0f} s)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
