"""Training reads ntuples through a branch profile: renamed branches, truth from
MLAnalyzer-style flags, no event numbers; the objects are those of our own file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from e2e_coffea.io.profiles import load_profile
from e2e_coffea.train import RootTaskSource
from e2e_coffea.train.tasks.definitions import get_task
from e2e_coffea.train.tasks.pairing import pair_model_and_task

RENAMED = {"jet_Pt": "jetPt", "jetSeed_ieta": "seedEta", "jetSeed_iphi": "seedPhi"}
DROPPED = ("jet_label", "runId", "lumiId", "eventId")  # truth from jet_IsTau; split by entry


def test_profiled_ntuple_gives_the_objects_of_our_file(tau_sources: Any, tmp_path: Path) -> None:
    task = get_task("tau")
    pair = pair_model_and_task("simplenet", task, dry_run=False)
    ours = next(s for s in tau_sources("e2e") if s.target == 1)
    with uproot.open(ours.name) as f:
        tree = f["fevt/RHTree"]
        keep = [k for k in tree.keys() if not k.startswith("n_") and k not in DROPPED]
        data = tree.arrays(keep)
    with uproot.recreate(tmp_path / "ntuple.root") as f:
        f["fevt/RHTree"] = {RENAMED.get(k, k): data[k] for k in keep}
    profile = tmp_path / "mine.json"
    profile.write_text(json.dumps({"name": "mine", "layout": "e2e", "branches": RENAMED}))
    theirs = RootTaskSource(tmp_path / "ntuple.root", "fevt/RHTree", 1, task, pair.inputs,
                            profile=load_profile(profile))  # fmt: skip
    a = [ours.read(u, v) for u, v in ours.units(20)]
    b = [theirs.read(u, v) for u, v in theirs.units(20)]
    np.testing.assert_array_equal(
        np.concatenate([c.inputs for c in b]), np.concatenate([c.inputs for c in a])
    )
    np.testing.assert_array_equal(
        np.concatenate([c.pt for c in b]), np.concatenate([c.pt for c in a])
    )
    assert sum(len(c) for c in b) > 0
    split = np.concatenate([c.split for c in b])
    assert set(split.tolist()) <= {0, 1, 2}  # split by (file, entry) without event numbers
