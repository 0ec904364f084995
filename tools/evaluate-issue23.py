"""Held-out figures of issue 23's taggers (tools/train-issue23.sh), against its floors.

Reads the seed-2 samples (ROOT/seed2/PROCESS/fileset.json), scores them through
:class:`e2e_coffea.inference.Tagger` (the main job's code path), weights every event by
its dataset's cross-section (pT-hat bins included), and writes one JSON with:

* top (each top_* model): AUC of fully merged top FatJets (signal pT matched to the
  background's) against qcd_boosted FatJets, pT > 400 GeV; the fraction of top-labelled
  FatJets with m_gen in 120-220 GeV;
* jet_mass: per sample and m_gen bin, the median response and relative resolution of the
  model and of the calo and soft-drop masses calibrated per (pT, |eta|) on the seed-1
  training split; the top peak (median predicted vs generator mass of top FatJets);
* btag (each btag_* model): b vs light and c vs light AUC and the light mistag at 70 % b
  efficiency, beside track counting (TCHE) on the same jets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from e2e_coffea.dashboards.composite import figure_png
from e2e_coffea.dashboards.object_plots import btag_roc_figure, mass_response_figure
from e2e_coffea.frames.objects import object_records
from e2e_coffea.frames.track_counting import track_counting
from e2e_coffea.hists.btag import btag_report, roc_from_values
from e2e_coffea.hists.response import fit_calibration, mass_response_report
from e2e_coffea.inference import Tagger
from e2e_coffea.io import load_fileset
from e2e_coffea.processor.weights import event_weights
from e2e_coffea.train.data.split import split_of
from e2e_coffea.train.data.weights import fit_reweighting
from e2e_coffea.train.tasks.definitions import get_task

TOP, OTHER = 5, 6
NAMES = ("top_simplenet", "top_resnet15", "jet_mass_simplenet", "btag_simplenet",
         "btag_particlegnn")  # fmt: skip


def record(model: Path, figures: dict[str, Any], held: Path) -> None:
    """The held-out figures into the contract's metrics (``heldout_*``), beside training's:
    tests/inference/test_shipped_taggers.py reads them against issue 23's floors."""
    from e2e_coffea.export import load_contract
    from e2e_coffea.export.attach import update_contract

    metrics = dict(load_contract(model).metrics or {})
    metrics["heldout_sample"] = f"{held} (seed 2, <mu> = 35, background at its cross-section)"
    metrics["heldout_command"] = "tools/evaluate-issue23.py"
    metrics["heldout_issue23"] = json.loads(json.dumps(figures, default=float))
    if "auc" in figures:  # top: the physical headline
        metrics["heldout_auc"], metrics["heldout_auc_err"] = figures["auc"], figures["auc_err"]
    elif "ttbar_pt_matched" in figures:  # b vs light in ttbar (CMS's reference), pT matched
        head = figures["ttbar_pt_matched"]["tagger"]["b_vs_light"]
        metrics["heldout_auc"], metrics["heldout_auc_err"] = head["auc"], head["auc_err"]
    update_contract(model, metrics=metrics)


def chunks(root: Path, process: str) -> list[tuple[ak.Array, np.ndarray]]:
    """(events, per-event cross-section weight) of every file of a process."""
    out = []
    for ds, entry in load_fileset(root / process / "fileset.json").items():
        for path, tree in entry["files"].items():
            with uproot.open(path) as f:
                ev = f[tree].arrays()
            w = event_weights(entry["metadata"], len(ev), 1.0, ev["event"].to_numpy(), ds)
            out.append((ev, w.weights if w.weights is not None else np.ones(len(ev))))
    return out


def per_object(ev: ak.Array, w: np.ndarray, coll: str, fields: list[str]) -> dict[str, np.ndarray]:
    cols = {f: ak.to_numpy(ak.flatten(ev[f"{coll}_{f}"])) for f in fields}
    cols["w"] = np.repeat(w, ak.to_numpy(ak.num(ev[f"{coll}_pt"])))
    return cols


def scored(tagger: Tagger, ev: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(ak.fill_none(tagger(ev), np.nan)))


def top_figures(model: Path, held: Path) -> dict[str, Any]:
    tg = Tagger(model, device="cpu")
    rng = get_task("top").range
    parts: dict[str, list[dict[str, np.ndarray]]] = {"top": [], "qcd_boosted": []}
    for proc in parts:
        for ev, w in chunks(held, proc):
            c = per_object(ev, w, "FatJet", ["pt", "label", "genMass"])
            c["score"] = scored(tg, ev)
            parts[proc].append(c)
    cat = {p: {k: np.concatenate([c[k] for c in v]) for k in v[0]} for p, v in parts.items()}
    s, b = cat["top"], cat["qcd_boosted"]
    s_ok = (s["label"] == TOP) & np.isfinite(s["score"]) & (s["pt"] > rng.pt_min)
    b_ok = np.isfinite(b["score"]) & (b["pt"] > rng.pt_min)
    rw = fit_reweighting("pt", {0: b["pt"][b_ok], 1: s["pt"][s_ok]})
    ws = rw.weights(np.ones(s_ok.sum()), s["pt"][s_ok])
    roc = roc_from_values(s["score"][s_ok], b["score"][b_ok], signal_weight=ws,
                          background_weight=b["w"][b_ok])  # fmt: skip
    m = s["genMass"][s_ok]
    return {"auc": roc.auc, "auc_err": roc.auc_err, "n_signal": int(s_ok.sum()),
            "n_background": int(b_ok.sum()),
            "top_mgen_120_220": float(np.mean((m > 120) & (m < 220))) if len(m) else None}  # fmt: skip


def mass_figures(
    model: Path, train: Path, held: Path, figures: Path | None = None
) -> dict[str, Any]:
    tg = Tagger(model, device="cpu")
    fields = ["pt", "eta", "mass", "msoftdrop", "label", "genMass"]

    def collect(root: Path, score: bool) -> dict[str, np.ndarray]:
        rows = []
        for proc in ("top", "qcd_boosted"):
            for ev, w in chunks(root, proc):
                c = per_object(ev, w, "FatJet", fields)
                n = ak.to_numpy(ak.num(ev["FatJet_pt"]))
                ids = [
                    np.repeat(ak.to_numpy(ev[k]), n) for k in ("run", "luminosityBlock", "event")
                ]
                c["split"] = split_of(*ids)
                c["sample"] = np.full(len(c["pt"]), "top" if proc == "top" else "qcd")
                if score:
                    c["pred"] = scored(tg, ev)
                rows.append(c)
        return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}

    tr, te = collect(train, False), collect(held, True)
    fit = tr["split"] == 0
    est: dict[str, np.ndarray] = {}
    for name, q in (
        ("calo mass (calibrated)", "mass"),
        ("soft-drop mass (calibrated)", "msoftdrop"),
    ):
        cal = fit_calibration(tr[q][fit], tr["genMass"][fit], tr["pt"][fit], tr["eta"][fit])
        est[name] = cal.apply(te[q], te["pt"], te["eta"])
    ok = np.isfinite(te["pred"]) & (te["genMass"] > 0)
    est = {"model": te["pred"][ok], **{k: v[ok] for k, v in est.items()}}
    rep = mass_response_report(te["genMass"][ok], te["sample"][ok], est, weight=te["w"][ok])
    top = ok & (te["label"] == TOP)
    if figures is not None:
        for sample in ("all", "top", "qcd"):
            fig = mass_response_figure(rep, sample)
            (figures / f"{model.stem}_response_{sample}.png").write_bytes(figure_png(fig))
    rep["top_peak"] = {"model": float(np.median(te["pred"][top])) if top.any() else None,
                       "generator": float(np.median(te["genMass"][top])) if top.any() else None}  # fmt: skip
    return rep


def btag_figures(model: Path, held: Path, figures: Path | None = None) -> dict[str, Any]:
    tg = Tagger(model, device="cpu")
    rng = get_task("btag").range
    rows = []
    for proc in ("top", "qcd"):
        for ev, w in chunks(held, proc):
            c = per_object(ev, w, "Jet", ["pt", "eta", "hadronFlavour"])
            c["score"] = scored(tg, ev)
            c["tc"] = track_counting(ev, "sparse", object_records(ev, "sparse", "jet"))
            c["sample"] = np.full(len(c["pt"]), proc)
            rows.append(c)
    c = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    ok = np.isfinite(c["score"]) & (c["pt"] > rng.pt_min)
    out = {}
    # per sample, as CMS quotes b taggers (ttbar; QCD weighted over its pT-hat bins): the
    # two samples' cross-sections differ by 1e5, so a pooled weighted ROC rests on QCD alone
    for name, m in (("ttbar", c["sample"] == "top"), ("qcd", c["sample"] == "qcd")):
        m &= ok
        out[name] = btag_report(c["score"][m], c["hadronFlavour"][m], c["tc"][m], weight=c["w"][m])
    out["pooled_unweighted"] = btag_report(c["score"][ok], c["hadronFlavour"][ok], c["tc"][ok])
    # the headline: ttbar with the b jets reweighted to the light jets' pT, so neither the
    # tagger nor track counting wins by pT alone
    m = ok & (c["sample"] == "top") & np.isin(c["hadronFlavour"], (0, 4, 5))
    fl, pt = c["hadronFlavour"][m], c["pt"][m]
    rw = fit_reweighting("pt", {0: pt[fl == 0], 1: pt[fl == 5]})
    w = np.ones(len(fl))
    w[fl == 5] = rw.weights(np.ones(int((fl == 5).sum())), pt[fl == 5])
    out["ttbar_pt_matched"] = btag_report(c["score"][m], fl, c["tc"][m], weight=w)
    if figures is not None:  # the dashboards' figure: tagger beside track counting
        fig = btag_roc_figure(c["score"][m], fl, c["tc"][m], weight=w)
        (figures / f"{model.stem}_btag_roc.png").write_bytes(figure_png(fig))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", action="append", choices=NAMES, help="evaluate only these")
    ap.add_argument("--record", type=Path, metavar="DEST",
                    help="write each tagger's held-out figures into DEST/NAME.onnx's contract")  # fmt: skip
    a = ap.parse_args(argv)
    out: dict[str, Any] = json.loads(a.out.read_text()) if a.out.is_file() else {}
    for name in a.only or NAMES:
        model = a.models / f"{name}.onnx"
        if name.startswith("top_"):
            out[name] = top_figures(model, a.heldout)
        elif name.startswith("jet_mass"):
            out[name] = mass_figures(model, a.train, a.heldout, a.out.parent)
        else:
            out[name] = btag_figures(model, a.heldout, a.out.parent)
        if a.record is not None:
            record(a.record / f"{name}.onnx", out[name], a.heldout)
    a.out.write_text(json.dumps(out, indent=1, default=float))
    for name, figs in out.items():
        sys.stdout.write(f"{name} {json.dumps(figs, default=float)[:400]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
