"""Training throughput (frames/s) of the model zoo on synthetic 125x125 jet frames.

For each model and channel count: a bare forward/backward/step loop (the baseline; median
of per-step rates) and the same batches through :func:`e2e_coffea.train.fit` (median over
epochs; the ratio is the loop's overhead). Medians, because a shared CPU is noisy;
runs on the CPU with torch threads = cores and, when CUDA is there, on the GPU with AMP.
Also prints parameter counts and the size of each model exported to ONNX (fp32).

    python benchmarks/train.py            # simplenet, resnet15, vit (tiny); 3 and 8 channels
    python benchmarks/train.py --quick    # fewer steps, one timed epoch
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from e2e_coffea.export import Contract, export_onnx
from e2e_coffea.models import count_parameters, create_model
from e2e_coffea.train import Batch, fit, loss_for

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
    res = fit(
        model,
        batches,
        epochs=epochs + 1,
        lr=1e-4,
        device=device,
        amp=amp,
        progress=False,
        restore_best=False,
    )
    return [float(h["frames_per_s"]) for h in res.history[1:]]


def onnx_size(name: str, channels: int) -> int:
    model = create_model(name, channels, **KWARGS.get(name, {}))
    c = Contract(
        task="classification",
        model_name=name,
        channels=tuple(f"c{i}" for i in range(channels)),
        frame_size=(125, 125),
        class_names=("background", "signal"),
    )
    with tempfile.TemporaryDirectory() as d:
        return export_onnx(model, Path(d) / "m.onnx", c, (2, channels, 125, 125)).n_bytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["simplenet", "resnet15", "vit"])
    ap.add_argument("--channels", nargs="+", type=int, default=[3, 8])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3, help="fit() epochs to take the median of")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    steps = 2 if args.quick else args.steps
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    devices = [("cpu", False)] + ([("cuda", True)] if torch.cuda.is_available() else [])
    print(
        f"torch {torch.__version__}, {cores} CPU threads"
        + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA")
    )
    print("frames/s as median [max]: on a shared CPU the max is closest to an idle machine")
    print(
        f"{'model':10s} {'C':>2s} {'params':>9s} {'onnx MB':>8s} {'device':>8s} {'batch':>5s} "
        f"{'bare loop fr/s':>16s} {'fit() fr/s':>16s} {'fit/bare':>8s}"
    )
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
                print(
                    f"{name:10s} {c:2d} {params:9,d} {size_mb:8.3f} {dev:>8s} {bs:5d} "
                    f"{bm:7.1f} [{bx:6.1f}] {fm:7.1f} [{fx:6.1f}] {fm / bm:8.2f}"
                )


if __name__ == "__main__":
    main()
