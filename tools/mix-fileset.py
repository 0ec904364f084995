"""Merge filesets and take the first N files of chosen datasets: a training mixture.

A tagger learns the background it is shown (docs/physics.md, "Retraining at pile-up 35":
trained on one pT-hat bin it fails on the others), so the mu = 35 tau training takes every
pT-hat bin and W+jets, with the abundant hard bins subsampled so that no bin dominates.
Datasets of the same name in several filesets are joined (their files and events added);
``--files NAME=N`` keeps the first N files of NAME from each input fileset.

    python tools/mix-fileset.py OUT.json A/fileset.sparse.json B/fileset.sparse.json \\
        --files qcd_pthat80to170=8 --files wjets=6
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from e2e_coffea.io import load_fileset


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("filesets", nargs="+")
    ap.add_argument("--files", action="append", default=[], metavar="NAME=N")
    args = ap.parse_args()
    keep = {k: int(v) for k, v in (item.split("=", 1) for item in args.files)}
    mixed: dict[str, dict[str, Any]] = {}
    for path in args.filesets:
        for name, entry in load_fileset(path).items():
            files = list(entry["files"].items())
            meta = dict(entry.get("metadata", {}))
            per_file = int(meta.get("events", 0)) // max(len(files), 1)
            files = files[: keep.get(name, len(files))]
            meta["events"] = meta["nevents"] = per_file * len(files)
            meta.pop("files", None)  # per-file records of the full dataset
            meta.pop("file_seeds", None)
            if name in mixed:
                mixed[name]["files"].update(dict(files))
                old = mixed[name]["metadata"]
                for key in ("events", "nevents"):
                    old[key] += meta[key]
                seeds = old["seed"] if isinstance(old.get("seed"), list) else [old.get("seed")]
                old["seed"] = [*seeds, meta.get("seed")]  # every sample's seed on record
            else:
                mixed[name] = {"files": dict(files), "metadata": meta}
    args.out.write_text(json.dumps(mixed, indent=1) + "\n")
    for name, entry in mixed.items():
        sys.stdout.write(
            f"{name}: {len(entry['files'])} files, {entry['metadata']['events']} events\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
