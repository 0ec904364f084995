"""Training check of the point-cloud models on hits: tau vs QCD jets, CPU, a few epochs.

Not a test: it shows that ``particle_gnn`` and ``point_transformer`` learn from
:func:`e2e_coffea.frames.build_point_clouds` clouds with :func:`e2e_coffea.train.fit`, and
how long an epoch takes. The baseline, measured on the same jets, is the AUC of the hit
multiplicity alone (fewer hits = more tau-like), so a model's AUC reads as "better or
not than counting hits". Jets: the tau task's selection
(:func:`e2e_coffea.train.tasks.definitions.task_selection` with the default :class:`ObjectCuts`),
split by event id with :func:`e2e_coffea.train.split_of` (80/10/10).

    e2e-coffea generate --process tau --process qcd --events 400 --out /tmp/pc-samples
    python benchmarks/point_models.py --fileset /tmp/pc-samples/fileset.sparse.json \\
        --epochs 6 --out benchmarks/results/point_models.txt
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch

from e2e_coffea.frames import ObjectCuts, PointCloudSpec, build_point_clouds
from e2e_coffea.io import load_fileset, open_tree
from e2e_coffea.layouts import EVENT_ID_BRANCHES, layout_of_tree
from e2e_coffea.models import count_parameters, create_model
from e2e_coffea.train import ArraySource, ObjectStream, build_index, fit, roc_auc, split_of
from e2e_coffea.train.tasks.definitions import get_task, task_selection


def load(fileset: Path, spec: PointCloudSpec) -> dict[str, np.ndarray]:
    """Point clouds, labels (1 = tau), split and hit multiplicity of the tau task's jets."""
    task, parts = get_task("tau"), []
    for ds, entry in load_fileset(fileset).items():
        cls = task.class_of_process(str(entry["metadata"].get("process", ds)))
        if cls is None:
            continue
        is_signal = cls == 1
        for path, tree_name in entry["files"].items():
            layout = layout_of_tree(tree_name)
            with open_tree(path, layout) as tree:
                for chunk in tree.iterate(step_size=500):
                    sel = task_selection(task, chunk, layout, cls, ObjectCuts())
                    pc = build_point_clouds(chunk, layout=layout, jets=sel, spec=spec)
                    ids = [ak.to_numpy(chunk[n]) for n in EVENT_ID_BRANCHES[layout]]
                    parts.append(
                        {
                            "x": pc.features,
                            "y": np.full(len(pc), float(is_signal), np.float32),
                            "split": split_of(*(v[pc.records.event] for v in ids)),
                            "n_points": pc.n_points,
                        }
                    )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def train_one(name: str, data: dict[str, np.ndarray], args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    model = create_model(name, data["x"].shape[2], 1)
    tr, _va, te = (data["split"] == i for i in (0, 1, 2))
    source = ArraySource(data["x"], data["y"].astype(np.int64), split=data["split"])
    index = build_index([source], step=args.batch_size)
    train = ObjectStream(index, 0, args.batch_size, shuffle_buffer=int(tr.sum()), seed=args.seed)
    val = ObjectStream(index, 1, 256)
    result = fit(
        model,
        train,
        val,
        epochs=args.epochs,
        lr=args.lr,
        device="cpu",
        monitor="val_auc",
        seed=args.seed,
        progress=False,
    )
    model.eval()
    with torch.no_grad():
        scores = model(torch.from_numpy(data["x"][te])).reshape(-1).numpy()
    seconds = [h["train_seconds"] for h in result.history]
    return {
        "model": name,
        "params": count_parameters(model),
        "best_val_auc": result.best_metric,
        "best_epoch": result.best_epoch,
        "val_auc_per_epoch": [round(h["val_auc"], 3) for h in result.history],
        "test_auc": float(roc_auc(data["y"][te], scores)),
        "s_per_epoch": statistics.median(seconds),
        "jets_per_s": statistics.median(h["frames_per_s"] for h in result.history),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fileset", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-points", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--models", nargs="+", default=["particle_gnn", "point_transformer"])
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    spec = PointCloudSpec(max_points=args.max_points)
    t0 = time.perf_counter()
    data = load(args.fileset, spec)
    build_s = time.perf_counter() - t0
    lines = [
        f"point models, tau vs qcd, CPU, {args.threads} torch thread(s); {args.epochs} epochs, "
        f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}",
        f"spec: {spec.to_dict()}",
        f"jets: {len(data['y'])} ({int(data['y'].sum())} tau); split train/val/test = "
        + "/".join(str(int((data["split"] == i).sum())) for i in (0, 1, 2))
        + f"; read + build point clouds: {build_s:.1f} s",
        f"real points per jet: median {int(np.median(data['n_points']))}, "
        f"{100 * float(np.mean(data['n_points'] > args.max_points)):.0f}% of jets truncated",
    ]
    va, te = data["split"] == 1, data["split"] == 2
    base_val = roc_auc(data["y"][va], -data["n_points"][va].astype(np.float64))
    base_test = roc_auc(data["y"][te], -data["n_points"][te].astype(np.float64))
    lines.append(f"baseline (hit multiplicity): val AUC {base_val:.3f}, test AUC {base_test:.3f}")
    for name in args.models:
        r = train_one(name, data, args)
        lines.append(
            f"{r['model']:<18} params {r['params']:>7}  best val AUC {r['best_val_auc']:.3f} "
            f"(epoch {r['best_epoch']}; per epoch {r['val_auc_per_epoch']})  test AUC "
            f"{r['test_auc']:.3f}  {r['s_per_epoch']:.1f} s/epoch ({r['jets_per_s']:.0f} jets/s); "
            f"val AUC - baseline {r['best_val_auc'] - base_val:+.3f}"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
