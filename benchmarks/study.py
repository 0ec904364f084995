"""CPU-vs-GPU throughput and scaling study: one command, a table, a plot, the machine.

For every tagger (e/gamma, quark/gluon, top, tau) x model (SimpleNet, ViT-Tiny, ResNet-15)
x device (a CPU worker; a GPU worker when torch sees CUDA, else recorded as n/a):

* ``ort``: the model alone in onnxruntime on ready-made frames (the ceiling; on a GPU the
  frames are already on the device, bound with IOBinding);
* ``e2e``: the main job end to end (read, build frames, infer, fill hists) through
  ``e2e_coffea.runner.run`` on one process: objects/s and events/s, and its ratio to ``ort``;
* ``scaling``: all SimpleNet taggers at once on 1, 2, ... local Dask workers (1 thread each);
* ``training``: training frames/s per model and device; on a CPU, torch threads 1 vs more.

Shipped taggers (``e2e_coffea/data/taggers``) are used where present, else untrained
exports with the same contract: inference throughput does not depend on the weights.
Every number is a median of repeats; the machine, versions, load and settings are
written next to them. Results go to ``benchmarks/results/<date>-<machine>/``.

    python benchmarks/study.py --quick          # minutes on a laptop
    python benchmarks/study.py --events 200     # steadier numbers
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

TASKS = ("eg", "qg", "top", "tau")
LABEL = {"eg": "e/gamma", "qg": "quark/gluon", "top": "top", "tau": "tau"}
PROCESSES = ["qcd", "top", "tau", "photon"]  # jets of every kind plus e/gamma objects
TRAIN_BATCH = {"simplenet": 32, "resnet15": 16, "vit": 4}
NO_GPU = "n/a: no GPU on this machine"
COLUMNS = [
    "section",
    "tagger",
    "model",
    "device",
    "workers",
    "threads",
    "frames_per_s",
    "objects_per_s",
    "events_per_s",
    "ratio",
    "note",
]


def machine_info(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    cpu = "unknown"
    if Path("/proc/cpuinfo").is_file():
        m = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = m.group(1).strip() if m else cpu
    versions = {}
    for pkg in (
        "e2e-coffea",
        "torch",
        "onnxruntime",
        "onnxruntime-gpu",
        "coffea",
        "dask",
        "distributed",
        "numpy",
        "awkward",
        "uproot",
        "numba",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "usable_cores": cores,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": versions,
        "settings": vars(args) | {"out": str(args.out)},
    }


def contract_for(task_name: str, model_name: str, model: Any) -> Any:
    """The contract the training CLI would write for this task and model."""
    from e2e_coffea.export import E2E_JET_CROP, EG_CROP, Contract
    from e2e_coffea.frames import load_norm, resolve_channels
    from e2e_coffea.train.tasks.definitions import get_task

    task = get_task(task_name)
    chs = tuple(s.name for s in resolve_channels(task.preset, frame=task.kind))  # type: ignore[arg-type]
    size = 32 if task.kind == "eg" else 125
    return Contract(
        task="classification",
        model_name=model_name,
        channels=chs,
        frame_size=(size, size),
        class_names=task.classes,
        channel_preset=task.preset,
        crop=EG_CROP if task.kind == "eg" else E2E_JET_CROP,
        normalisation=load_norm(task.preset).to_dict(),
        model_kwargs=getattr(model, "model_kwargs", {}) or {},
    )


def tagger_file(task_name: str, model_name: str, work: Path) -> tuple[Path, str]:
    """A shipped tagger if there is one, else an untrained export with the same contract."""
    import torch

    from e2e_coffea.export import export_onnx
    from e2e_coffea.inference.shipped import list_taggers, shipped_dir
    from e2e_coffea.models import create_model
    from e2e_coffea.train.tasks.definitions import get_task

    name = f"{task_name}_{model_name}"
    if name in list_taggers():
        return shipped_dir() / f"{name}.onnx", "shipped"
    path = work / f"{name}.onnx"
    if not path.is_file():
        kind = get_task(task_name).kind
        size = 32 if kind == "eg" else 125
        probe = contract_for(task_name, model_name, None)
        kw = {"size": "tiny", "img_size": size} if model_name == "vit" else {}
        torch.manual_seed(0)
        model = create_model(model_name, len(probe.channels), 1, **kw).eval()
        export_onnx(
            model,
            path,
            contract_for(task_name, model_name, model),
            (2, len(probe.channels), size, size),
        )
    return path, "untrained"


def synthetic_frames(n: int, contract: Any) -> np.ndarray:
    """Frames with the occupancy of real ones (~5% non-zero pixels)."""
    rng = np.random.default_rng(0)
    x = rng.random((n, len(contract.channels), *contract.frame_size), dtype=np.float32)
    x[x < 0.95] = 0.0
    return x


def bench_ort(
    path: Path, device: str, threads: int, n_max: int, reps: int, budget_s: float
) -> float:
    """Model-only frames/s, batches of up to 256; GPU frames stay on the device (IOBinding).

    A probe batch sizes the sample so one repeat takes about ``budget_s`` (ViT on a small
    CPU runs at a few frames/s; SimpleNet at thousands)."""
    from e2e_coffea.export import load_contract
    from e2e_coffea.inference.cuda import run_cuda
    from e2e_coffea.inference.sessions import get_session, run_cpu

    contract = load_contract(path)
    sess = get_session(path, device, threads if device == "cpu" else 1)

    def runner(n: int) -> Any:
        x = synthetic_frames(n, contract)
        batch = min(256, n)
        if device == "cpu":
            name = sess.get_inputs()[0].name
            return lambda: [run_cpu(sess, {name: x[i : i + batch]}) for i in range(0, n, batch)]
        import torch

        xt = torch.from_numpy(x).to(device)
        return lambda: (run_cuda(sess, xt, batch_size=batch), torch.cuda.synchronize())

    probe, _ = timed_runs(runner(8), 1)  # includes a warm-up call
    n = int(min(n_max, max(16, budget_s * 8 / probe)))
    wall, _ = timed_runs(runner(n), reps)
    return n / wall


def timed_runs(fn: Any, reps: int) -> tuple[float, Any]:
    """Median wall time of ``reps`` calls after one warm-up call; the last result."""
    result = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_e2e(
    fileset: Path,
    warm: Path,
    paths: list[Path],
    device: str,
    chunksize: int,
    reps: int,
    client: Any = None,
) -> tuple[float, float, int]:
    """End-to-end objects/s and events/s of the main job (iterative, or Dask with ``client``).

    One run over the tiny ``warm`` fileset first builds the sessions and compiles the
    frame kernels, as a long-lived worker would have done long before."""
    from e2e_coffea.runner import run

    kw: dict[str, Any] = (
        {"executor": "dask", "client": client} if client else {"executor": "iterative"}
    )
    taggers = [str(p) for p in paths]
    run(warm, taggers, device=device, chunksize=chunksize, progress=False, **kw)  # type: ignore[arg-type]
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = run(fileset, taggers, device=device, chunksize=chunksize, progress=False, **kw)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    wall = statistics.median(times)
    objects = int(result.output["metrics"]["objects"])  # type: ignore[union-attr]
    return objects / wall, result.processed / wall, objects  # type: ignore[union-attr]


def bench_training(model_name: str, device: str, threads: int, steps: int, reps: int) -> float:
    """Training frames/s (forward, backward, AdamW step) on 8-channel 125x125 frames."""
    import torch

    from e2e_coffea.models import create_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(model_name, 8, 1, **({"size": "tiny"} if model_name == "vit" else {}))
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = TRAIN_BATCH[model_name]
    x = torch.from_numpy(synthetic_frames(b, contract_for("top", model_name, None))).to(device)
    y = torch.randint(0, 2, (b, 1), generator=torch.Generator().manual_seed(0)).float().to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).reshape(b, 1), y)
        loss.backward()
        opt.step()
        if device != "cpu":
            torch.cuda.synchronize()

    wall, _ = timed_runs(lambda: [step() for _ in range(steps)], reps)
    return b * steps / wall


def row(section: str, **kw: Any) -> dict[str, Any]:
    return {c: kw.get(c, "") for c in COLUMNS} | {"section": section}


def study(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import torch
    from distributed import Client

    from e2e_coffea.runner.cluster import local_cluster

    machine = machine_info(args)
    threads = machine["usable_cores"]
    from e2e_coffea.inference.sessions import choose_device

    auto = choose_device("auto")  # CUDA only where onnxruntime can run there too
    devices = ["cpu"] + (["cuda"] if auto.device != "cpu" else [])
    machine["auto_device"] = f"{auto.device} ({auto.reason})"
    no_gpu = f"n/a: {auto.reason}"
    work = Path(args.work or tempfile.mkdtemp(prefix="e2e-study-"))
    if args.synthetic:  # no Pythia (GPU machines): synthetic events, jets and e/gamma alike
        from e2e_coffea.frames.testing import write_synthetic_fileset

        n = args.events * len(PROCESSES)
        fileset = write_synthetic_fileset(work / "sample", files=4, events=n // 4, seed=11)
        warm = write_synthetic_fileset(work / "warm", files=1, events=12, seed=12)
    else:
        from e2e_coffea.sim.generate import generate

        fileset = generate(PROCESSES, args.events, work / "sample", layout="sparse", seed=11)[
            "sparse"
        ]
        warm = generate(PROCESSES, 3, work / "warm", layout="sparse", seed=12)["sparse"]
    chunksize = max(1, args.events * len(PROCESSES) // 8)
    rows: list[dict[str, Any]] = []
    files: dict[tuple[str, str], Path] = {}
    for task in args.taggers:
        for model in args.models:
            path, weights = tagger_file(task, model, work)
            files[(task, model)] = path
            for device in ("cpu", "cuda"):
                base = {
                    "tagger": LABEL[task],
                    "model": model,
                    "device": device,
                    "threads": threads if device == "cpu" else 1,
                    "note": weights,
                }
                if device not in devices:
                    rows.append(row("ort", **base | {"note": no_gpu}))
                    rows.append(row("e2e", **base | {"note": no_gpu}))
                    continue
                ort = bench_ort(path, device, threads, args.frames, args.reps, args.budget)
                obj_s, ev_s, n_obj = bench_e2e(fileset, warm, [path], device, chunksize, args.reps)
                rows.append(row("ort", **base, frames_per_s=ort))
                rows.append(
                    row(
                        "e2e",
                        **base | {"note": f"{weights}; {n_obj} objects"},
                        objects_per_s=obj_s,
                        events_per_s=ev_s,
                        ratio=obj_s / ort,
                    )
                )
                print(
                    f"{task:4s} {model:10s} {device}: ort {ort:8.1f} frames/s, e2e {obj_s:7.1f} "
                    f"objects/s {ev_s:7.1f} events/s ({obj_s / ort:.0%} of ort)",
                    flush=True,
                )
    simplenets = [files[(t, "simplenet")] for t in args.taggers if (t, "simplenet") in files]
    one = None
    for n in args.workers:
        with local_cluster(n, 0) as cluster, Client(cluster) as client:
            client.wait_for_workers(n, timeout=120)
            obj_s, ev_s, _ = bench_e2e(
                fileset, warm, simplenets, "cpu", chunksize, args.reps, client
            )
        one = one or obj_s
        rows.append(
            row(
                "scaling",
                tagger="all",
                model="simplenet",
                device="cpu",
                workers=n,
                threads=1,
                objects_per_s=obj_s,
                events_per_s=ev_s,
                ratio=obj_s / one,
            )
        )
        print(f"scaling: {n} worker(s): {obj_s:7.1f} objects/s, {ev_s:7.1f} events/s", flush=True)
    rows.append(
        row("scaling", tagger="all", model="simplenet", device="cuda", note=NO_GPU)
        if "cuda" not in devices
        else row(
            "scaling",
            tagger="all",
            model="simplenet",
            device="cuda",
            note="GPU scaling needs >1 GPU",
        )
    )
    for model in args.models:
        for t in sorted({1, threads}):
            fps = bench_training(model, "cpu", t, args.train_steps, args.reps)
            rows.append(
                row(
                    "training",
                    model=model,
                    device="cpu",
                    threads=t,
                    frames_per_s=fps,
                    note=f"batch {TRAIN_BATCH[model]}, 8x125x125",
                )
            )
            print(f"training {model} cpu x{t}: {fps:.1f} frames/s", flush=True)
        if torch.cuda.is_available():  # training needs torch's GPU only
            fps = bench_training(model, "cuda", 1, args.train_steps, args.reps)
            rows.append(row("training", model=model, device="cuda", threads=1, frames_per_s=fps))
        else:
            rows.append(row("training", model=model, device="cuda", note=NO_GPU))
    machine["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return rows, machine


def goals(rows: list[dict[str, Any]], machine: dict[str, Any]) -> list[str]:
    """The two targets, stated honestly: measured, or why not."""
    e2e = {(r["model"], r["device"], r["tagger"]): r for r in rows if r["section"] == "e2e"}
    out = []
    gpu_r = [
        e2e[k]
        for k in e2e
        if k[0] == "resnet15" and k[1] == "cuda" and e2e[k]["objects_per_s"] != ""
    ]
    if gpu_r:
        ratios = [
            r["objects_per_s"] / e2e[("resnet15", "cpu", r["tagger"])]["objects_per_s"]
            for r in gpu_r
        ]
        out.append(
            f"- GPU worker vs CPU worker ({machine['usable_cores']} threads) for ResNet-15: "
            f"{min(ratios):.1f}x to {max(ratios):.1f}x (target >= 10x vs a 16-thread worker)"
        )
    else:
        out.append(
            f"- GPU worker >= 10x a 16-thread CPU worker for ResNet-15: not measurable here "
            f"({NO_GPU}; the CPU worker had {machine['usable_cores']} threads)."
        )
    gpu_e = [
        r for r in rows if r["section"] == "e2e" and r["device"] == "cuda" and r["ratio"] != ""
    ]
    if gpu_e:
        out.append(
            f"- end-to-end / GPU-resident ORT: {min(r['ratio'] for r in gpu_e):.0%} to "
            f"{max(r['ratio'] for r in gpu_e):.0%} (target >= 70%)"
        )
    else:
        cpu_e = [r for r in rows if r["section"] == "e2e" and r["ratio"] != ""]
        span = (
            f"{min(r['ratio'] for r in cpu_e):.0%} to {max(r['ratio'] for r in cpu_e):.0%}"
            if cpu_e
            else "n/a"
        )
        out.append(
            f"- end-to-end >= 70% of GPU-resident ORT throughput: not measurable here ({NO_GPU}). "
            f"The CPU analogue (end-to-end objects/s over model-only frames/s) is {span}."
        )
    return out


def _load(machine: dict[str, Any], when: str) -> str:
    v = machine.get(f"load_average_at_{when}")
    return "/".join(f"{x:.1f}" for x in v) if v else "n/a"


def caveats(machine: dict[str, Any]) -> list[str]:
    out = []
    load, cores = (machine.get("load_average_at_start") or [0.0])[0], machine["usable_cores"]
    if load > cores:
        out.append(
            f"- The machine was oversubscribed (load average {load:.1f} on {cores} cores, other "
            f"jobs running): the numbers are noisy, extra threads or workers cannot help, and an "
            f"end-to-end/model-only ratio above 1 is noise."
        )
    events = machine["settings"]["events"] * len(PROCESSES)
    out += [
        f"- End to end includes each run's fixed costs (opening files, preflight, coffea's runner) "
        f"over only {events} events; light models (SimpleNet, e/gamma crops) are dominated by "
        f"those costs and by frame building, so they sit far below their model-only rate.",
        "- Model-only frames are synthetic (5% occupancy); untrained and shipped weights cost the "
        "same. Objects are jets for jet taggers and e/gamma candidates for the e/gamma tagger.",
    ]
    return out


def render(outdir: Path) -> None:
    """Rewrite table.md and study.png from a results folder's table.csv and machine.json."""
    machine = json.loads((outdir / "machine.json").read_text())
    rows = []
    with (outdir / "table.csv").open() as f:
        for r in csv.DictReader(f):
            for c in ("frames_per_s", "objects_per_s", "events_per_s", "ratio"):
                r[c] = float(r[c]) if r[c] else ""
            for c in ("workers", "threads"):
                r[c] = int(r[c]) if r[c] else ""
            rows.append(r)
    write(rows, machine, outdir)


def write(rows: list[dict[str, Any]], machine: dict[str, Any], outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    fmt = {
        "frames_per_s": "{:.1f}",
        "objects_per_s": "{:.1f}",
        "events_per_s": "{:.1f}",
        "ratio": "{:.2f}",
    }

    def cell(r: dict[str, Any], c: str) -> str:
        v = r[c]
        return fmt[c].format(v) if c in fmt and v != "" else str(v)

    with (outdir / "table.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows([{c: cell(r, c) for c in COLUMNS} for r in rows])
    (outdir / "machine.json").write_text(json.dumps(machine, indent=2) + "\n")
    lines = [
        f"# Throughput and scaling study, {machine['date'][:10]}",
        "",
        f"{machine['cpu_model']}, {machine['usable_cores']} usable cores, GPU: {machine['gpu'] or 'none'}; "
        f"load average {_load(machine, 'start')} at start, {_load(machine, 'end')} at end. "
        f"Versions and settings: machine.json. Medians of {machine['settings']['reps']} repeats after a warm-up.",
        "",
        "## Goals",
        "",
        *goals(rows, machine),
        "",
        "## Reading these numbers",
        "",
        *caveats(machine),
        "",
    ]
    titles = {
        "ort": "Model only (onnxruntime, frames ready)",
        "e2e": "End to end (one process)",
        "scaling": "Scaling with local Dask workers (1 thread each)",
        "training": "Training (forward + backward + AdamW)",
    }
    for sec, title in titles.items():
        sub = [r for r in rows if r["section"] == sec]
        cols = [c for c in COLUMNS[1:] if any(r[c] != "" for r in sub)]
        lines += [f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(cell(r, c) for c in cols) + " |" for r in sub] + [""]
    (outdir / "table.md").write_text("\n".join(lines))
    plot(rows, outdir / "study.png")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    e2e = [r for r in rows if r["section"] == "e2e" and r["objects_per_s"] != ""]
    ort = {
        (r["tagger"], r["model"], r["device"]): r["frames_per_s"]
        for r in rows
        if r["section"] == "ort" and r["frames_per_s"] != ""
    }
    short = {"e/gamma": "e/g", "quark/gluon": "q/g"}
    labels = [f"{short.get(r['tagger'], r['tagger'])}\n{r['model']}\n{r['device']}" for r in e2e]
    xs = np.arange(len(e2e))
    ax[0, 0].bar(
        xs - 0.2,
        [ort[(r["tagger"], r["model"], r["device"])] for r in e2e],
        0.4,
        label="model only (ORT)",
    )
    ax[0, 0].bar(xs + 0.2, [r["objects_per_s"] for r in e2e], 0.4, label="end to end")
    ax[0, 0].set(
        xticks=xs, yscale="log", ylabel="objects (frames) / s", title="Inference per tagger x model"
    )
    ax[0, 0].set_xticklabels(labels, fontsize=6)
    ax[0, 0].legend()
    ax[0, 1].bar(xs, [r["events_per_s"] for r in e2e])
    ax[0, 1].set(xticks=xs, yscale="log", ylabel="events / s", title="End-to-end events/s")
    ax[0, 1].set_xticklabels(labels, fontsize=6)
    sc = [r for r in rows if r["section"] == "scaling" and r["objects_per_s"] != ""]
    if sc:
        w = [r["workers"] for r in sc]
        ax[1, 0].plot(w, [r["objects_per_s"] for r in sc], "o-", label="measured")
        ax[1, 0].plot(w, [sc[0]["objects_per_s"] * n for n in w], "k--", label="ideal")
        ax[1, 0].set(
            xticks=w,
            xlabel="Dask workers",
            ylabel="objects / s",
            title="Scaling, all SimpleNet taggers (CPU)",
        )
        ax[1, 0].legend()
    tr = [r for r in rows if r["section"] == "training" and r["frames_per_s"] != ""]
    for model in dict.fromkeys(r["model"] for r in tr):
        pts = [r for r in tr if r["model"] == model and r["device"] == "cpu"]
        ax[1, 1].plot(
            [r["threads"] for r in pts], [r["frames_per_s"] for r in pts], "o-", label=model
        )
    ax[1, 1].set(
        xlabel="torch threads (CPU)",
        ylabel="training frames / s",
        yscale="log",
        title="Training",
        xticks=sorted({r["threads"] for r in tr if r["device"] == "cpu"}),
    )
    ax[1, 1].legend()
    gpu = (
        "(no GPU on this machine: GPU columns are n/a)"
        if not any(r["device"] == "cuda" and r["objects_per_s"] != "" for r in rows)
        else ""
    )
    fig.suptitle(f"e2e-coffea throughput study {gpu}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=100, help="events per process (4 processes)")
    p.add_argument(
        "--frames", type=int, default=2048, help="most frames for the model-only benchmark"
    )
    p.add_argument(
        "--budget", type=float, default=5.0, help="seconds per model-only repeat (sizes the sample)"
    )
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=3)
    p.add_argument("--taggers", default=",".join(TASKS))
    p.add_argument("--models", default="simplenet,vit,resnet15")
    p.add_argument("--workers", default=None, help="comma list; default 1..usable cores")
    p.add_argument(
        "--quick", action="store_true", help="--events 15 --budget 2 --reps 2 --train-steps 2"
    )
    p.add_argument("--machine", default=None, help="name for the results folder")
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="synthetic events (frames.testing) instead of Pythia samples (GPU machines)",
    )
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument(
        "--folder", type=Path, default=None, help="exact results folder (overrides --out/--machine)"
    )
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="RESULTS_DIR",
        help="only rewrite table.md and study.png from that folder's CSV and machine.json",
    )
    args = p.parse_args()
    if args.render:
        render(args.render)
        return
    if args.quick:
        args.events, args.budget, args.reps, args.train_steps = 15, 2.0, 2, 2
    args.taggers = [t for t in args.taggers.split(",") if t]
    args.models = [m for m in args.models.split(",") if m]
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    args.workers = (
        [int(w) for w in args.workers.split(",")] if args.workers else list(range(1, cores + 1))
    )
    rows, machine = study(args)
    name = args.machine or re.sub(
        r"[^a-z0-9]+", "-", f"{machine['usable_cores']}core-{machine['cpu_model']}".lower()
    ).strip("-")
    outdir = args.folder or args.out / f"{machine['date'][:10]}-{name}"
    write(rows, machine, outdir)
    print(f"wrote {outdir}/table.md, table.csv, study.png, machine.json")


if __name__ == "__main__":
    main()
