"""The main job's numbers on a fixed sample do not change unnoticed: the histograms and
AUCs of two shipped taggers over the shared tau + qcd sample are compared with a committed
golden file, ``golden/main_job.json``.

A refactor that must not change behaviour leaves this test green. A change that is meant
to move the numbers rewrites the file on purpose, with ``E2E_WRITE_GOLDEN=1`` (the test then
writes and fails, so a rewrite is never silent), and the diff shows in review.

Counts (entries, cut flow, object counts, which histogram bins are filled) compare exactly;
weighted bin contents and AUCs to a relative 1e-12, far below any real change. The sample
is Pythia's at a fixed seed (``tests/conftest.py``); the golden file also holds a digest of
its jets, so a machine whose Pythia build generates other events fails on that digest (the
input), not on the job's output.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

from e2e_coffea.hists.summary import summarize
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.runner import run

GOLDEN = Path(__file__).parent / "golden" / "main_job.json"
TAGGERS = ("tau_simplenet_pu35", "qg_simplenet")
REL = 1e-12


def _sample_digest(sample: Any) -> dict[str, str]:
    """sha256 of each dataset's jet kinematics (not the ROOT bytes: those hold UUIDs)."""
    out = {}
    for ds in ("qcd", "tau"):
        with uproot.open(sample.files[(ds, "sparse")]) as f:
            jets = f["Events"].arrays(["Jet_pt", "Jet_eta", "Jet_phi"])
        h = hashlib.sha256()
        for name in ("Jet_pt", "Jet_eta", "Jet_phi"):
            h.update(np.asarray(jets[name].layout.content.data, dtype="<f8").tobytes())
        out[ds] = h.hexdigest()
    return out


def _hist(h: Any) -> dict[str, Any]:
    """A histogram as its filled bins, each keyed by its category names (so the order in
    which categories first appeared does not matter) and numeric bin indices (flow bins
    included: index 0 is the underflow), with value and, when weighted, variance."""
    view = h.view(flow=True)
    weighted = view.dtype.names is not None
    values = np.asarray(view["value"] if weighted else view, dtype=np.float64)
    var = np.asarray(view["variance"], dtype=np.float64) if weighted else None
    rows = []
    for idx in np.argwhere(values != 0):
        key = [
            (str(ax.value(i)) if i < len(ax) else "<other>") if ax.traits.discrete else int(i)
            for ax, i in zip(h.axes, idx, strict=True)
        ]
        row = [key, float(values[tuple(idx)])]
        if var is not None:
            row.append(float(var[tuple(idx)]))
        rows.append(row)
    return {"axes": list(h.axes.name), "bins": sorted(rows, key=lambda r: json.dumps(r[0]))}


def _numbers(sample: Any) -> dict[str, Any]:
    result = run(
        sample.fileset["sparse"], list(TAGGERS), executor="iterative", chunksize=15,
        device="cpu", progress=False,
    )  # fmt: skip
    summary = summarize(result, [resolve_tagger(t) for t in TAGGERS])
    out = result.output
    return {
        "sample": _sample_digest(sample),
        "entries": out["entries"],
        "cutflow": out["cutflow"],
        "auc": {
            t: [summary["taggers"][t]["auc"], summary["taggers"][t]["auc_err"]] for t in TAGGERS
        },
        "hists": {name: _hist(h) for name, h in sorted(out["hists"].items())},
    }


def _dump(numbers: dict[str, Any]) -> str:
    """JSON with one line per top-level entry and per histogram bin: a change reads as a
    few lines in review."""
    top = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in numbers.items() if k != "hists"]
    hists = []
    for name, h in numbers["hists"].items():
        rows = ",\n".join(f"   {json.dumps(r)}" for r in h["bins"])
        hists.append(
            f'  {json.dumps(name)}: {{"axes": {json.dumps(h["axes"])}, "bins": [\n{rows}\n  ]}}'
        )
    body = ",\n".join([*top, ' "hists": {\n' + ",\n".join(hists) + "\n }"])
    return "{\n" + body + "\n}\n"


def _close(a: Any, b: Any, where: str) -> None:
    """Equal structure; exact ints and strings; floats to a relative REL."""
    if isinstance(a, dict):
        assert isinstance(b, dict), where
        assert sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list), where
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=REL, abs=0), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_main_job_histograms_and_aucs_match_the_golden_file(sample: Any) -> None:
    got = json.loads(json.dumps(_numbers(sample)))  # the JSON form, as stored
    if os.environ.get("E2E_WRITE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(_dump(got))
        pytest.fail(f"E2E_WRITE_GOLDEN=1: wrote {GOLDEN}; rerun without it to check")
    want = json.loads(GOLDEN.read_text())
    assert got["sample"] == want["sample"], "the sample differs (Pythia build?), not the job"
    assert all(v[0] is not None for v in want["auc"].values())  # both taggers give an AUC
    _close(got, want, "main_job")
