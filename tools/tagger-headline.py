"""The physical headline AUC of a binary jet tagger through ``Tagger`` alone, computed
independently of the main job's histograms (issue 20: "through e2e-coffea run and
through Tagger").

Every file of FILESET is read eagerly with coffea's NanoAODSchema and scored by
``Tagger(NAME)`` (its default cuts: the contract's validity range). Signal: jets whose
``label`` (``Jet_label``, ``EGamma_label`` ...) is the task's signal label in the signal
datasets. Background: the jets of the background datasets that the task's background
class takes (the gluon-labelled ones for q/g; any but a tau for tau), as the main job
counts them, each event weighted by its dataset's ``xsec_pb`` / events
(the cross-section weighting; per pT-hat bin where the metadata has one per bin). The signal,
weighted the same way, is reweighted bin by bin to the background's jet
pT (the main job's pT bins), and the AUC is sklearn's weighted ``roc_auc_score``, so the
figure shares no code with ``hists/physical.py``; the unweighted AUC and the AUC per
background dataset are printed beside it.

A multi-class tagger (``tau3``) is cut on its signal class's probability and measured
pairwise, as the main job's ``pairwise`` entry is: the signal against each other class
alone (``tau_vs_qcd``: QCD and W+jets at their cross-sections; ``tau_vs_electron``), each
with its own pT matching. The task's classes say which process feeds which class.

    python tools/tagger-headline.py pu35_heldout/fileset.sparse.json tau_simplenet \\
        --signal tau --out tagger_headline.json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory
from sklearn.metrics import roc_auc_score

from e2e_coffea import Tagger
from e2e_coffea.io import load_fileset
from e2e_coffea.layouts import LABEL_IDS
from e2e_coffea.train.tasks.definitions import TASKS

COLLECTIONS = {"jet": "Jet", "fatjet": "FatJet", "eg": "EGamma"}
"""The NanoAOD collection a tagger of each object kind scores."""
PT_EDGES = np.array([20.0, 30, 40, 50, 60, 80, 100, 130, 170, 250, 400, 1000])


def _score_dataset(
    tagger: Tagger, files: dict[str, str], field: str | None
) -> dict[str, np.ndarray]:
    """Scores (``field``: the class probability a multi-class tagger's record holds), pT,
    truth label and event number of every object the tagger scored in ``files``."""
    parts: dict[str, list[np.ndarray]] = {"score": [], "pt": [], "label": [], "event": []}
    for path, tree in files.items():
        events = NanoEventsFactory.from_root({path: tree}, schemaclass=NanoAODSchema,
                                             mode="eager").events()  # fmt: skip
        score = tagger(events)
        keep = ~ak.is_none(score, axis=1)
        objects = events[COLLECTIONS[tagger.kind]]
        kept = score[keep] if field is None else score[keep][field]
        parts["score"].append(ak.to_numpy(ak.flatten(kept)).astype(np.float64))
        parts["pt"].append(ak.to_numpy(ak.flatten(objects.pt[keep])).astype(np.float64))
        parts["label"].append(ak.to_numpy(ak.flatten(objects.label[keep])))
        event = ak.broadcast_arrays(events.event, objects.pt)[0]
        parts["event"].append(ak.to_numpy(ak.flatten(event[keep])).astype(np.int64))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _event_weights(meta: dict, event: np.ndarray) -> np.ndarray:
    """xsec / events per object: one cross-section per dataset, or one per pT-hat bin of a
    dataset generated across bins (event e in bin (e - 1) % bins, as the metadata says)."""
    if meta.get("xsec_pb") is not None:
        return np.full(len(event), float(meta["xsec_pb"]) / float(meta["events"]))
    per_bin = np.asarray(meta["xsec_pb_per_bin"], float) / np.asarray(meta["nevents_per_bin"])
    return per_bin[(event - 1) % len(per_bin)]


def _matched(
    sig_pt: np.ndarray, sig_w: np.ndarray, bkg_pt: np.ndarray, bkg_w: np.ndarray
) -> np.ndarray:
    """Signal weights that give the (cross-section weighted) signal the background's
    (weighted) pT spectrum; within a pT bin the signal keeps its own event weights (a
    quark sample spanning pT-hat bins), as the main job's histograms do."""
    b = np.clip(np.digitize(bkg_pt, PT_EDGES) - 1, 0, len(PT_EDGES) - 2)
    s = np.clip(np.digitize(sig_pt, PT_EDGES) - 1, 0, len(PT_EDGES) - 2)
    hb = np.bincount(b, weights=bkg_w, minlength=len(PT_EDGES) - 1)
    hs = np.bincount(s, weights=sig_w, minlength=len(PT_EDGES) - 1)
    ratio = np.divide(hb / hb.sum(), hs / hs.sum(), out=np.zeros_like(hb), where=hs > 0)
    return ratio[s] * sig_w


def _auc(sig: np.ndarray, bkg: np.ndarray, ws: np.ndarray | None, wb: np.ndarray | None) -> float:
    y = np.r_[np.ones(len(sig)), np.zeros(len(bkg))]
    w = None if ws is None or wb is None else np.r_[ws, wb]
    return float(roc_auc_score(y, np.r_[sig, bkg], sample_weight=w))


def _headline(
    sig: tuple[np.ndarray, np.ndarray, np.ndarray],
    bkg: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> dict[str, object]:
    """Headline, unweighted and per-dataset AUCs of ``sig`` (scores, pT, cross-section
    weights) against ``bkg`` (dataset -> scores, pT, cross-section weights)."""
    s, s_pt, s_w = sig
    b = np.concatenate([v[0] for v in bkg.values()])
    b_pt = np.concatenate([v[1] for v in bkg.values()])
    b_w = np.concatenate([v[2] for v in bkg.values()])
    return {
        "n_signal": len(s),
        "n_background": len(b),
        "auc_headline": _auc(s, b, _matched(s_pt, s_w, b_pt, b_w), b_w),
        "auc_unweighted": _auc(s, b, None, None),
        "per_background_dataset": {
            name: _auc(s, v[0], _matched(s_pt, s_w, v[1], v[2]), v[2])
            for name, v in bkg.items()
            if len(v[0])
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fileset")
    ap.add_argument("tagger")
    ap.add_argument("--signal", required=True, help="the signal's process and Jet_label name")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    NanoAODSchema.warn_missing_crossrefs = False
    tagger = Tagger(args.tagger)
    names = list(tagger.contract.class_names)
    multi = len(names) > 2
    task = TASKS.get(str((tagger.contract.provenance or {}).get("tagger_task")))
    if multi and task is None:
        sys.exit(f"tagger-headline: {args.tagger} names no task of ours; its classes {names}")
    field = args.signal if multi else None
    fileset = load_fileset(args.fileset)
    sig: list[np.ndarray] = []
    sig_pt: list[np.ndarray] = []
    sig_w: list[np.ndarray] = []
    bkg: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the conditions warning is the point of the sample
        for name, entry in fileset.items():
            meta = entry["metadata"]
            got = _score_dataset(tagger, entry["files"], field)
            if meta.get("process") == args.signal:
                is_sig = got["label"] == LABEL_IDS[args.signal]
                sig.append(got["score"][is_sig])
                sig_pt.append(got["pt"][is_sig])
                sig_w.append(_event_weights(meta, got["event"][is_sig]))
                continue
            group, not_sig = "background", got["label"] != LABEL_IDS[args.signal]
            if task is not None:  # the class this process feeds, with its truth label (if any)
                classes = task.classes_of_process(str(meta.get("process")))
                if not classes:
                    sys.exit(f"tagger-headline: dataset {name!r}: process {meta.get('process')!r} "
                             f"feeds no class of task {task.name!r}")  # fmt: skip
                sample = task.samples[classes[0]]
                group = sample.name
                if sample.label is not None:
                    not_sig = got["label"] == LABEL_IDS[sample.label]
            bkg.setdefault(group, {})[name] = (got["score"][not_sig], got["pt"][not_sig],
                                               _event_weights(meta, got["event"][not_sig]))  # fmt: skip
    signal = (np.concatenate(sig), np.concatenate(sig_pt), np.concatenate(sig_w))
    result: dict[str, object] = {"tagger": args.tagger, "fileset": args.fileset}
    if not multi:  # one background class, whatever its name
        result.update(_headline(signal, {k: v for g in bkg.values() for k, v in g.items()}))
    else:
        result["pairwise"] = {f"{args.signal}_vs_{g}": _headline(signal, v) for g, v in bkg.items()}
    text = json.dumps(result, indent=1)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
