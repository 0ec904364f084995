"""Training benchmarks: precision (CPU fp32 vs bf16), streaming memory, and the model zoo.

``--section precision``: synthetic 3x125x125 jet frames (a faint central blob in channel 0
for the signal, sparse noise everywhere). Throughput: fit() over the same batches, fp32
and bf16 autocast alternated a few times, since the load of a shared CPU drifts; the
baseline is fp32 in the same run and the speed-up is the ratio of medians. AUC: the same
streamed objects trained with the same seed once per precision, on the test split.

``--section memory``: peak RSS of a whole training epoch (index, stream, shuffle buffer
1024, a linear model on 5x5-pooled frames: the data path is measured, not the network) at
10k and 100k objects, each in a fresh process (its VmHWM from /proc; ``ru_maxrss`` would
carry the parent's peak over fork + exec). The objects come from a synthetic
source that builds each frame on the fly from its id (a stand-in for ROOT files:
generating 100k real jets on 2 cores takes hours), so only the streaming path is
measured; holding the frames instead would take N x 183 KiB.

``--section zoo``: training throughput of the model zoo on synthetic frames: a bare
forward/backward/step loop (the baseline) against fit() (medians of per-step/epoch rates).

``--section precision-real``: fp32 vs bf16 through ``train_task`` on generated tau and
QCD jets (``--fileset``), same seed: the AUC difference on physics data.

    e2e-coffea generate --process tau --process qcd --events 1200 --seed 5 --nproc 2 --out /tmp/big
    python benchmarks/train.py --section precision --section precision-real \\
        --fileset /tmp/big/fileset.sparse.json --section memory --out benchmarks/results/train.txt
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from e2e_coffea.export import Contract, export_onnx
from e2e_coffea.models import count_parameters, create_model
from e2e_coffea.train import (
    Batch,
    ObjectChunk,
    ObjectStream,
    auc_of,
    build_index,
    fit,
    loss_for,
    predict,
)
from e2e_coffea.train.data.sources import units_of
from e2e_coffea.train.data.split import split_of

SHAPE = (3, 125, 125)


class SyntheticSource:
    """``n`` objects of class ``target``; object ``i``'s frame is a function of ``i`` alone."""

    sequential = False

    def __init__(self, first: int, n: int, target: int, amplitude: float = 0.04) -> None:
        self.name, self.first, self.n, self.target, self.amp = (
            f"synthetic{first}",
            first,
            n,
            target,
            amplitude,
        )
        ids = np.arange(first, first + n)
        self.split = split_of(np.ones(n, np.int64), np.zeros(n, np.int64), ids)

    def units(self, step: int) -> list[tuple[int, int]]:
        return units_of(self.n, step)

    def scan(self, a: int, b: int) -> ObjectChunk:
        pt = 30.0 + (np.arange(a, b) % 97).astype(np.float32)
        return ObjectChunk(
            np.full(b - a, self.target, np.int64), self.split[a:b], pt, np.zeros(b - a, np.float32)
        )

    def read(self, a: int, b: int, select: Any = None) -> ObjectChunk:
        c = self.scan(a, b)
        if select is not None:  # like a ROOT source: only the wanted objects' frames are built
            c = c.take(np.flatnonzero(select(c)))
        n = len(c)
        rng = np.random.default_rng([self.first + a, b])
        x = np.zeros((n, *SHAPE), np.float32)
        hits = rng.integers(0, SHAPE[1] * SHAPE[2], (n, SHAPE[0], 800))  # ~5% occupancy
        vals = rng.exponential(1.0, hits.shape).astype(np.float32)
        np.put_along_axis(x.reshape(n, SHAPE[0], -1), hits, vals, axis=2)
        if self.target:
            yy, xx = np.mgrid[: SHAPE[1], : SHAPE[2]] - 62.0
            blob = np.exp(-(yy**2 + xx**2) / (2 * 6.0**2)).astype(np.float32)
            x[:, 0] += self.amp * rng.uniform(0.5, 1.5, (n, 1, 1)).astype(np.float32) * blob
        return ObjectChunk(c.target, c.split, c.pt, c.abs_eta, x)


def sources(n: int, files: int = 8, amplitude: float = 0.04) -> list[SyntheticSource]:
    """``n`` objects in class-pure 'files', background and signal alternating."""
    per = max(n // files, 1)
    return [SyntheticSource(i * per, per, i % 2, amplitude) for i in range(files)]


def precision_section(args: argparse.Namespace) -> list[str]:
    lines = [
        f"== precision: CPU fp32 vs bf16 autocast; {torch.get_num_threads()} torch threads; "
        f"signal blob height {args.amplitude}",
        "throughput: fit() on the same 8 batches of 32, fresh model, fp32 and bf16 alternated "
        f"{args.rounds} times (a shared CPU's load drifts): median [min-max] frames/s",
        "AUC: the same streamed objects, same seed, trained once per precision; test split",
        "model      fp32 fr/s              bf16 fr/s              bf16/fp32  objects epochs "
        "test AUC fp32  bf16     diff",
    ]
    for model_name, n, epochs in (
        ("simplenet", args.objects, args.epochs),
        ("resnet15", args.objects // 3, max(args.epochs - 1, 1)),
    ):
        index = build_index(sources(n, amplitude=args.amplitude), step=128)
        batches = list(ObjectStream(index, 0, 32))[:8]
        rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(args.rounds):
            for prec in rates:
                torch.manual_seed(0)
                model = create_model(model_name, SHAPE[0], 1)
                res = fit(model, batches, epochs=1, device="cpu", precision=prec, progress=False)
                rates[prec].append(res.history[0]["frames_per_s"])
        aucs = {}
        for prec in rates:
            torch.manual_seed(0)
            model = create_model(model_name, SHAPE[0], 1)
            train = ObjectStream(index, 0, 32, shuffle_buffer=512, seed=1)
            fit(model, train, ObjectStream(index, 1, 128), epochs=epochs, lr=1e-3,
                device="cpu", precision=prec, progress=False, seed=1, monitor="val_auc")  # fmt: skip
            out = predict(model, ObjectStream(index, 2, 128), torch.device("cpu"))
            aucs[prec] = auc_of(out)
        med = {k: statistics.median(v) for k, v in rates.items()}
        span = {k: f"{med[k]:6.1f} [{min(v):5.1f}-{max(v):5.1f}]" for k, v in rates.items()}
        lines.append(
            f"{model_name:10s} {span['fp32']:22s} {span['bf16']:22s} {med['bf16'] / med['fp32']:9.2f} "
            f"{n:7d} {epochs:6d} {aucs['fp32']:13.4f} {aucs['bf16']:6.4f} {aucs['bf16'] - aucs['fp32']:+8.4f}"
        )
        print(lines[-1], flush=True)
    return lines


def precision_real(args: argparse.Namespace) -> list[str]:
    """fp32 vs bf16 on generated jets: train_task on the same fileset with the same seed."""
    from e2e_coffea.export import load_contract
    from e2e_coffea.train import train_task

    lines = [
        f"== precision on generated jets: e2e-coffea train --task tau --model simplenet "
        f"--fileset {args.fileset.name} --epochs {args.real_epochs} --seed 1, fp32 vs bf16 "
        "(streamed from ROOT, frames built on the fly)",
        "precision  train fr/s (median epoch)  best val AUC  test AUC  objects train/val/test",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for prec in ("fp32", "bf16"):
            info = train_task("tau", "simplenet", args.fileset, Path(tmp) / prec, epochs=args.real_epochs,
                              precision=prec, seed=1, patience=None, progress=False)  # fmt: skip
            hist = load_contract(info["path"]).metrics["history"]
            rate = statistics.median(h["frames_per_s"] for h in hist)
            n = info["objects"]
            split = "/".join(str(sum(n[s].values())) for s in ("train", "val", "test"))
            lines.append(
                f"{prec:9s}  {rate:24.1f}  {info['val_auc']:12.4f}  {info['test_auc']:8.4f}  {split}"
            )
            print(lines[-1], flush=True)
    return lines


def memory_child(n: int) -> None:
    """One epoch over ``n`` objects; prints the peak RSS (MiB) as JSON."""
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    t0 = time.perf_counter()
    index = build_index(sources(n, files=max(8, n // 2000)), step=256)
    torch.manual_seed(0)
    # a deliberately cheap model (pool 5x5 -> linear): the data path is what is measured
    model = torch.nn.Sequential(
        torch.nn.AvgPool2d(5), torch.nn.Flatten(), torch.nn.Linear(3 * 25 * 25, 1)
    )
    train = ObjectStream(index, 0, 64, shuffle_buffer=1024, seed=1)
    res = fit(
        model,
        train,
        ObjectStream(index, 1, 256),
        epochs=1,
        device="cpu",
        progress=False,
    )
    # VmHWM: this process's own peak. ru_maxrss is no good here: Linux carries it over
    # from the parent across fork + exec, so a child would report its parent's peak.
    status = Path("/proc/self/status").read_text()
    hwm_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    kids_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"objects": n, "n_train": res.history[0]["n_train"], "n_val": res.history[0]["n_val"],
                      "peak_rss_mib": hwm_kib / 1024, "children_peak_rss_mib": kids_kib / 1024,
                      "seconds": time.perf_counter() - t0,
                      "frames_per_s": res.history[0]["frames_per_s"]}))  # fmt: skip


def memory_section(args: argparse.Namespace) -> list[str]:
    lines = [
        "== memory: peak RSS of one training epoch, fresh process per size "
        "(synthetic source, 3x125x125 frames, shuffle buffer 1024, batch 64, 0 loader workers, "
        "pooled-linear model)",
        "objects  trained  validated  peak RSS MiB  frames held would need MiB  s/epoch  fr/s",
    ]
    rows = []
    for n in args.memory_sizes:
        proc = subprocess.run([sys.executable, __file__, "--memory-child", str(n)], check=True,
                              capture_output=True, text=True)  # fmt: skip
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(r)
        held = n * np.prod(SHAPE) * 4 / 2**20
        lines.append(
            f"{n:7d} {r['n_train']:8d} {r['n_val']:10d} {r['peak_rss_mib']:13.0f} {held:27.0f} "
            f"{r['seconds']:8.0f} {r['frames_per_s']:5.0f}"
        )
        print(lines[-1], flush=True)
    if len(rows) >= 2:
        lines.append(
            f"peak RSS ratio {rows[-1]['objects']}/{rows[0]['objects']} objects: "
            f"{rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.2f} "
            f"(objects ratio {rows[-1]['objects'] / rows[0]['objects']:.0f})"
        )
    return lines


# -- the model zoo: bare loop vs fit() -------------------------------------------------
BATCH = {"simplenet": 32, "resnet15": 32, "vit": 8}
STEPS = {"vit": 2}  # ViT-Tiny on 625 tokens runs at a few frames/s on a laptop CPU
KWARGS = {"vit": {"size": "tiny"}}


def synthetic(n_batches: int, batch: int, channels: int, device: str) -> list[Batch]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n_batches):
        x = torch.rand(batch, channels, 125, 125, generator=g)
        x[x < 0.95] = 0.0  # sparse like real frames (~5% occupancy)
        y = torch.randint(0, 2, (batch,), generator=g).float()
        out.append(Batch(x, y).to(device))
    return out


def bare_loop(model: torch.nn.Module, batches: list[Batch], device: str, amp: bool) -> list[float]:
    """Per-step frames/s of the plainest possible training loop: the baseline."""
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = loss_for(model)
    bf16 = amp and torch.cuda.is_bf16_supported()  # the same choice fit() makes
    dtype = torch.bfloat16 if bf16 else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp and not bf16)

    def step(b: Batch) -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.split(":")[0], dtype=dtype, enabled=amp):
            loss = loss_fn(model(b.frames).float(), b.labels)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    step(batches[0])  # warm-up: allocator, kernels
    rates = []
    for b in batches:
        sync(device)
        t0 = time.perf_counter()
        step(b)
        sync(device)
        rates.append(len(b) / (time.perf_counter() - t0))
    return rates


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def via_fit(
    model: torch.nn.Module, batches: list[Batch], device: str, amp: bool, epochs: int
) -> list[float]:
    """frames/s of fit()'s epochs after the first (which warms up)."""
    res = fit(model, batches, epochs=epochs + 1, lr=1e-4, device=device,
              precision="auto" if amp else "fp32", progress=False,
              restore_best=False)  # fmt: skip
    return [float(h["frames_per_s"]) for h in res.history[1:]]


def onnx_size(name: str, channels: int) -> int:
    model = create_model(name, channels, **KWARGS.get(name, {}))
    c = Contract(task="classification", model_name=name, channels=tuple(f"c{i}" for i in range(channels)),
                 frame_size=(125, 125), class_names=("background", "signal"))  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        return export_onnx(model, Path(d) / "m.onnx", c, (2, channels, 125, 125)).n_bytes


def zoo_section(args: argparse.Namespace) -> list[str]:
    steps = 2 if args.quick else args.steps
    devices = [("cpu", False)] + ([("cuda", True)] if torch.cuda.is_available() else [])
    lines = [
        "== zoo: frames/s as median [max]: on a shared CPU the max is closest to an idle machine",
        f"{'model':10s} {'C':>2s} {'params':>9s} {'onnx MB':>8s} {'device':>8s} {'batch':>5s} "
        f"{'bare loop fr/s':>16s} {'fit() fr/s':>16s} {'fit/bare':>8s}",
    ]
    for name in args.models:
        for c in args.channels:
            torch.manual_seed(0)
            params = count_parameters(create_model(name, c, **KWARGS.get(name, {})))
            size_mb = onnx_size(name, c) / 1e6
            for device, amp in devices:
                bs = BATCH.get(name, 16) * (4 if device == "cuda" else 1)
                n = STEPS.get(name, steps) * (10 if device == "cuda" else 1)
                batches = synthetic(n, bs, c, device)
                torch.manual_seed(0)
                bare = bare_loop(
                    create_model(name, c, **KWARGS.get(name, {})), batches, device, amp
                )
                torch.manual_seed(0)
                m = create_model(name, c, **KWARGS.get(name, {}))
                fitted = via_fit(m, batches, device, amp, 1 if args.quick else args.repeat)
                bm, bx = statistics.median(bare), max(bare)
                fm, fx = statistics.median(fitted), max(fitted)
                dev = device + ("+amp" if amp else "")
                lines.append(
                    f"{name:10s} {c:2d} {params:9,d} {size_mb:8.3f} {dev:>8s} {bs:5d} "
                    f"{bm:7.1f} [{bx:6.1f}] {fm:7.1f} [{fx:6.1f}] {fm / bm:8.2f}"
                )
                print(lines[-1], flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--section", action="append", choices=["precision", "precision-real", "memory", "zoo"]
    )
    ap.add_argument(
        "--fileset", type=Path, default=None, help="precision-real: a tau + qcd fileset"
    )
    ap.add_argument("--real-epochs", type=int, default=3)
    ap.add_argument(
        "--objects", type=int, default=3000, help="precision: objects of the simplenet run"
    )
    ap.add_argument("--epochs", type=int, default=2, help="precision: epochs of the simplenet run")
    ap.add_argument("--amplitude", type=float, default=0.3, help="precision: signal blob height")
    ap.add_argument("--rounds", type=int, default=3, help="precision: fp32/bf16 alternations")
    ap.add_argument("--memory-sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="+", default=["simplenet", "resnet15", "vit"])
    ap.add_argument("--channels", nargs="+", type=int, default=[3, 8])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3, help="zoo: fit() epochs to take the median of")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    lines = [
        f"torch {torch.__version__}, {cores} CPU threads, load average {os.getloadavg()[0]:.1f} at start"
        + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"),
    ]
    sections = {"precision": precision_section, "precision-real": precision_real,
                "memory": memory_section, "zoo": zoo_section}  # fmt: skip
    for name in args.section or ["zoo"]:
        lines += sections[name](args)
    lines.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
