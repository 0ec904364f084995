"""Main-job throughput (jets/s): ``e2e_coffea.run`` against baselines measured in the same run.

On a freshly generated tau + qcd sample (sparse layout) and for untrained SimpleNet and
ResNet-15 taggers (``qg`` channels, exported to ONNX by this script):

1. the coffea Runner (Iterative executor) with E2ETaggerProcessor vs bare onnxruntime
   ``session.run`` on the same jets' frames, prebuilt: the overhead of reading, frame
   building, bookkeeping and histogramming;
2. vs coffea's ``ml_tools.torch_wrapper`` running the same model (TorchScript) in a
   processor that builds the same frames in ``prepare_awkward``;
3. on a GPU (if torch sees one and onnxruntime has CUDA): end to end vs ORT on frames
   already on the device, in one process and on a Dask GPU worker (dask-cuda's recipe)
   with 1, 2 and 4 threads (the work split: one thread frames while another infers);
4. a local Dask cluster with 1 and 2 one-thread workers: jets/s and scaling efficiency.

Every rate is the best of ``--repeat`` warm runs (session, numba kernels and worker
imports paid before timing): a shared CPU is noisy, the best run is the least disturbed.

    python benchmarks/run.py                 # 400 events, simplenet + resnet15
    python benchmarks/run.py --events 200 --models simplenet --repeat 1
    python benchmarks/run.py --gpu-only --synthetic --events 8000 --json gpu.json  # GPU
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
import uproot

from e2e_coffea.export import Contract, export_onnx
from e2e_coffea.frames import JetCuts, build_jet_frames, load_norm, resolve_channels
from e2e_coffea.inference.sessions import clear_cache, get_session
from e2e_coffea.inference.shipped import resolve_tagger
from e2e_coffea.models import create_model
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.processor.booking import book_score_hists, fill_scores
from e2e_coffea.runner import run

BATCH = 256  # the processor's default batch size


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Shortest wall time of ``repeat`` calls, and that call's result; coffea's progress
    bars (drawn even with status=False) are kept out of the report."""
    runs = []
    for _ in range(repeat):
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            out = fn()
            runs.append((time.perf_counter() - t0, out))
    return min(runs, key=lambda r: r[0])


def export_models(folder: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    """Untrained models with the last layer scaled (scores spread, like a real tagger's):
    ONNX with its contract for us, TorchScript for torch_wrapper."""
    chs = tuple(s.name for s in resolve_channels("qg", frame="jet"))
    out = {}
    for name in names:
        torch.manual_seed(0)
        net = create_model(name, len(chs), 1).eval()
        c = Contract(
            task="classification",
            model_name=name,
            channels=chs,
            frame_size=(125, 125),
            class_names=("qcd", "tau"),
            channel_preset="qg",
            normalisation=load_norm("qg").to_dict(),
        )
        onnx_path = folder / f"{name}.onnx"
        export_onnx(net, onnx_path, c, (2, len(chs), 125, 125))
        jit_path = folder / f"{name}.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript deprecation notices
            torch.jit.trace(net, torch.rand(2, len(chs), 125, 125)).save(str(jit_path))
        out[name] = (onnx_path, jit_path)
    return out


def selected_frames(files: list[str], spec: Any, cuts: JetCuts, device: str = "cpu") -> Any:
    """Frames of every jet the processor selects, built once, outside any timing."""
    parts = []
    for path in files:
        with uproot.open(path) as f:
            chunk = f["Events"].arrays()
        sel = (
            (chunk["Jet_pt"] > cuts.pt_min)
            & (abs(chunk["Jet_eta"]) < cuts.abs_eta_max)
            & (chunk["Jet_inFrame"] != 0)
        )
        frames, _ = build_jet_frames(
            chunk,
            layout="sparse",
            channels=list(spec.contract.channels),
            jets=sel,
            norm="qg",
            backend="numpy" if device == "cpu" else "torch",
            device=device,
        )
        parts.append(frames)
    return np.concatenate(parts) if device == "cpu" else torch.cat(parts)


# -- (2) coffea.ml_tools.torch_wrapper -------------------------------------------------------
TW_SLICE = 1000
"""Events per torch_wrapper call. The wrapper runs its whole input as one torch batch: on a
10,000-event chunk (8,475 SimpleNet frames) that took more than 23 GB and was OOM-killed,
so the peer is given 1,000-event slices, as a user would choose a chunk size."""


def torch_wrapper_processor(jit_path: Path, spec: Any, cuts: JetCuts) -> Any:
    """A coffea processor in the style the ml_tools docs show: the wrapper builds the frames
    in ``prepare_awkward``, TorchScript runs them, the processor fills the same hists."""
    from coffea import processor
    from coffea.ml_tools.torch_wrapper import torch_wrapper

    required, optional = E2ETaggerProcessor([spec], device="cpu").branches("sparse")
    branches = [*required, *optional, "Jet_inFrame"]
    channels = list(spec.contract.channels)

    class JetFrames(torch_wrapper):  # type: ignore[misc]
        def prepare_awkward(
            self, chunk: ak.Array, mask: ak.Array
        ) -> tuple[tuple[Any, ...], dict[str, Any]]:
            frames, _ = build_jet_frames(
                chunk, layout="sparse", channels=channels, jets=mask, norm="qg"
            )
            return (ak.from_numpy(frames),), {}

    class TorchWrapperProcessor(processor.ProcessorABC):  # type: ignore[misc]
        def __init__(self) -> None:
            self.wrapper = JetFrames(str(jit_path))

        def process(self, events: Any) -> dict[str, Any]:
            chunk = ak.zip({b: events[b] for b in branches}, depth_limit=1)
            mask = (
                (chunk["Jet_pt"] > cuts.pt_min)
                & (abs(chunk["Jet_eta"]) < cuts.abs_eta_max)
                & (chunk["Jet_inFrame"] != 0)
            )
            hists = book_score_hists()
            n = int(ak.sum(mask))
            if n:  # in slices: torch_wrapper runs its whole input as one batch
                parts = [
                    ak.to_numpy(self.wrapper(chunk[lo : lo + TW_SLICE], mask[lo : lo + TW_SLICE]))
                    for lo in range(0, len(chunk), TW_SLICE)
                    if ak.any(mask[lo : lo + TW_SLICE])
                ]
                logits = np.concatenate(parts)[:, 0]
                fill_scores(
                    hists,
                    dataset=events.metadata["dataset"],
                    tagger=spec.name,
                    labels=ak.to_numpy(ak.flatten(chunk["Jet_label"][mask])),
                    scores=1 / (1 + np.exp(-logits)),
                    pt=ak.to_numpy(ak.flatten(chunk["Jet_pt"][mask])),
                    eta=ak.to_numpy(ak.flatten(chunk["Jet_eta"][mask])),
                )
            return {"hists": hists, "objects": n}

        def postprocess(self, accumulator: Any) -> Any:
            return accumulator

    return TorchWrapperProcessor()


def run_torch_wrapper(fileset: dict[str, Any], proc: Any, chunksize: int) -> dict[str, Any]:
    from coffea import processor
    from coffea.nanoevents import BaseSchema

    exe = processor.IterativeExecutor(status=False, retries=0)
    runner = processor.Runner(executor=exe, schema=BaseSchema, chunksize=chunksize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runner(fileset, proc)  # type: ignore[no-any-return]


# -- (5) realistic chunks: the processor and the Tagger API against bare onnxruntime ---------
def tiled_file(src: list[str], dst: Path, n_events: int) -> Path:
    """A sparse file of ``n_events`` events: the sample's events repeated (a realistic
    chunk size without hours of Pythia; the per-event content stays realistic)."""
    from e2e_coffea.io import write_sparse
    from e2e_coffea.layouts import SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES

    parts = []
    for path in src:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays())
    flat = ak.concatenate(parts)
    reps = -(-n_events // len(flat))
    flat = ak.concatenate([flat] * reps)[:n_events]
    chunk: dict[str, Any] = {
        c: ak.zip({k: flat[f"{c}_{k}"] for k in fs}) for c, fs in SPARSE_COLLECTIONS.items()
    }
    chunk["event"] = ak.zip({b: flat[b] for b in SPARSE_EVENT_BRANCHES})
    write_sparse(dst, chunk)
    return dst


def score_bins_moved(ours: Any, theirs: Any) -> float:
    """Fraction of the objects whose score lands in another bin of the score histogram
    (summed over datasets and labels): ~0 when both ran the same model on the same jets."""
    a, b = (np.asarray(h.project("score").values(), dtype=np.float64) for h in (ours, theirs))
    return float(0.5 * np.abs(a - b).sum() / max(a.sum(), 1.0))


def bench_realistic(
    path: Path, spec: Any, onnx_path: Path, cores: int, repeat: int, warm: Path | None = None,
    jit_path: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One chunk of 10k events, in process: the processor (read, select, frame, infer, fill)
    with today's fixed batch (256) and with the measured one (:mod:`e2e_coffea.inference.
    calibration`; measured on the warm-up chunk ``warm``, then read from the cache), and the
    Tagger API, against onnxruntime alone on the same jets' frames, built beforehand, at its
    own best batch size (swept over the calibration's candidates on the first 1024 frames,
    then timed on all). With ``jit_path``, coffea's ``torch_wrapper`` processor on the same
    chunk and the same model (TorchScript), in the same process with the same cores: the
    ratio, the jets both scored and how many scores changed bin. Goals (issue 25):
    processor >= 90 % of bare ORT at its best batch; SimpleNet >= 2x today's processor;
    >= 3x torch_wrapper."""
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    from e2e_coffea.frames import select_objects
    from e2e_coffea.inference import Tagger
    from e2e_coffea.inference.calibration import CANDIDATES
    from e2e_coffea.inference.threads import thread_budget

    with uproot.open(path) as f:
        n_events = int(f["Events"].num_entries)

    def events(p: Path = path) -> Any:
        with uproot.open(p) as f:
            stop = int(f["Events"].num_entries)
        meta = {"dataset": "tiled", "filename": str(p), "treename": "Events", "entrystart": 0,
                "entrystop": stop}  # fmt: skip
        return NanoEventsFactory.from_root({str(p): "Events"}, schemaclass=BaseSchema,
                                           metadata=meta, mode="virtual").events()  # fmt: skip

    fixed = E2ETaggerProcessor([spec], device="cpu", mean_images=False, batch_size=BATCH)
    tuned = E2ETaggerProcessor([spec], device="cpu", mean_images=False)  # batch measured
    tagger = Tagger(spec, device="cpu")
    chunk = uproot.open(path)["Events"].arrays()
    sel = select_objects(chunk, "sparse", "jet").selection
    frames, _ = build_jet_frames(
        chunk, layout="sparse", channels=list(spec.contract.channels), jets=sel, norm="qg"
    )
    sess = get_session(onnx_path, "cpu", cores)

    def bare(size: int, x: np.ndarray = frames) -> np.ndarray:
        return np.concatenate(
            [sess.run(None, {"frames": x[i : i + size]})[0] for i in range(0, len(x), size)]
        )

    warm_events = warm or path
    fixed.process(events(warm_events))  # warm: kernels, session
    t_fixed, out = best(lambda: fixed.process(events()), repeat)
    tuned.process(events(warm_events))  # warm, and the batch size measured (then cached)
    t_tuned, out_t = best(lambda: tuned.process(events()), repeat)
    tagger(events(warm_events))
    t_tag, scores = best(lambda: tagger(events()), repeat)
    head = frames[:1024]
    bare(CANDIDATES[0], head)
    sweep = {b: len(head) / best(lambda b=b: bare(b, head), 1)[0] for b in CANDIDATES}
    b_best = max(sweep, key=lambda b: sweep[b])
    t_ort, _ = best(lambda: bare(b_best), repeat)
    n = int(out["metrics"]["objects"])
    if n != len(frames) or int(ak.count(scores)) != n or int(out_t["metrics"]["objects"]) != n:
        msg = f"jet counts differ: processor {n}, frames {len(frames)}, tagger {int(ak.count(scores))}"
        raise RuntimeError(msg)
    chosen = ", ".join(out_t["metrics"]["batch_size"][spec.name])  # how:size
    m = out_t["metrics"]
    budget = thread_budget()
    res = {
        "events": n_events, "jets": n, "cores": cores,
        "threads": {"ort_bare": cores, "processor_intra_op": budget.intra_op, "prefetch": budget.prefetch},
        "bare_sweep_jets_per_s": sweep, "bare_best_batch": b_best, "ort_best_jets_per_s": n / t_ort,
        "processor_fixed_jets_per_s": n / t_fixed, "processor_calibrated_jets_per_s": n / t_tuned,
        "processor_batch": chosen, "tagger_jets_per_s": n / t_tag,
        "calibrated_over_fixed": t_fixed / t_tuned, "calibrated_over_bare_best": t_ort / t_tuned,
        "fixed_over_bare_best": t_ort / t_fixed,
        "events_per_s_per_core": n_events / t_tuned / cores, "jets_per_s_per_core": n / t_tuned / cores,
        "khz_per_worker": n_events / t_tuned / 1000,
        "processor_read_s": m["time_read"], "processor_frames_s": m["time_frames"],
        "processor_inference_s": m["time_inference"],
    }  # fmt: skip
    print(f"(5) one chunk of {n_events} events, {n} jets; bare ORT threads {cores}, the "
          f"processor's split {budget.intra_op} intra-op + {budget.prefetch} frame thread:")  # fmt: skip
    print("    bare onnxruntime batch sweep (1024 frames): "
          + ", ".join(f"{b}: {r:.0f}" for b, r in sweep.items()) + " jets/s")  # fmt: skip
    print(f"    bare onnxruntime at its best batch ({b_best}) : {n / t_ort:8.1f} jets/s")
    print(f"    processor, fixed batch {BATCH} (today)       : {n / t_fixed:8.1f} jets/s  "
          f"({t_ort / t_fixed:.0%} of bare best)")  # fmt: skip
    print(f"    processor, batch {chosen:<24}: {n / t_tuned:8.1f} jets/s  "
          f"({t_ort / t_tuned:.0%} of bare best; goal >= 90 %; {t_fixed / t_tuned:.2f}x the fixed "
          f"batch; read {m['time_read']:.2f} s, frames {m['time_frames']:.2f} s, inference "
          f"{m['time_inference']:.2f} s of {t_tuned:.2f} s)")  # fmt: skip
    print(f"    Tagger(events), measured batch         : {n / t_tag:8.1f} jets/s  "
          f"({t_ort / t_tag:.0%} of bare best)")  # fmt: skip
    if jit_path is not None:
        twp = torch_wrapper_processor(jit_path, spec, JetCuts())
        twp.process(events(warm_events))
        t_tw, out_tw = best(lambda: twp.process(events()), repeat)
        moved = score_bins_moved(out_t["hists"]["score"], out_tw["hists"]["score"])
        res.update(torch_wrapper_jets_per_s=out_tw["objects"] / t_tw, over_torch_wrapper=t_tw / t_tuned,
                   torch_wrapper_jets=int(out_tw["objects"]), torch_wrapper_score_bins_moved=moved)  # fmt: skip
        print(f"    coffea torch_wrapper processor (TorchScript, {torch.get_num_threads()} torch threads): "
              f"{out_tw['objects'] / t_tw:8.1f} jets/s; ours / torch_wrapper = {t_tw / t_tuned:.2f}x "
              f"(goal >= 3x); same jets: {int(out_tw['objects']) == n}; scores in another bin: "
              f"{moved:.2%}")  # fmt: skip
    print(f"    facility units (calibrated processor, one process on {cores} cores): "
          f"{n_events / t_tuned / cores:.0f} events/s per core, {n / t_tuned / cores:.0f} jets/s "
          f"per core, {n_events / t_tuned / 1000:.2f} kHz per worker (AGC with ML inference: "
          f"0.70 kHz per worker)")  # fmt: skip
    return res


# -- (4') Dask scaling on realistic chunks, in facility units ---------------------------------
def bench_dask(
    tmp: Path, files: list[str], spec: Any, cores: int, args: Any, n_events: int
) -> dict[str, Any]:
    """A local cluster of 1, then 2, one-thread workers on one tiled file of
    ``--dask-events`` events in chunks of ``--dask-chunksize``: scaling efficiency and
    kHz per worker. The client process cannot be kept off the workers' cores on a 2-core
    machine (each worker owns one); it only waits during the timed run, so its CPU time
    over that run is measured and reported beside the rates."""
    from distributed import Client

    from e2e_coffea.runner.cluster import local_cluster

    path = tmp / f"tiled-dask-{n_events}.root"
    if not path.exists():
        tiled_file(files, path, n_events)
    fileset = {"tiled": {"files": {str(path): "Events"}}}
    kw: dict[str, Any] = {"chunksize": args.dask_chunksize, "device": "cpu", "progress": False}
    out: dict[str, Any] = {"events": n_events, "chunksize": args.dask_chunksize}
    for nw in (1, 2):
        cluster = local_cluster(nw, 0)
        client = Client(cluster)
        try:
            client.wait_for_workers(nw, timeout=120)
            dkw = dict(kw, client=client)
            best(lambda: run(fileset, [spec], executor="dask", **dkw), 1)
            c0 = time.process_time()
            t_d, res_d = best(lambda: run(fileset, [spec], executor="dask", **dkw), args.repeat)
            client_cpu = (time.process_time() - c0) / args.repeat
        finally:
            client.close()
            cluster.close()
        jets, events = res_d.output["metrics"]["objects"], res_d.processed
        out[nw] = {
            "jets_per_s": jets / t_d, "events_per_s": events / t_d,
            "khz_per_worker": events / t_d / nw / 1000, "jets_per_s_per_core": jets / t_d / nw,
            "events_per_s_per_core": events / t_d / nw, "client_cpu_fraction": client_cpu / t_d,
        }  # fmt: skip
        print(f"(4) LocalCluster, {nw} one-thread worker(s), {events} events in chunks of "
              f"{args.dask_chunksize}: {jets / t_d:8.1f} jets/s, {events / t_d / nw / 1000:.2f} kHz "
              f"per worker, {jets / t_d / nw:.0f} jets/s per core; client process used "
              f"{100 * client_cpu / t_d:.0f} % of a core")  # fmt: skip
    eff = out[2]["jets_per_s"] / (2 * out[1]["jets_per_s"])
    out["efficiency"] = eff
    print(f"    scaling 1 -> 2 workers: {100 * eff:.0f} % (goal >= 80 %; {cores} cores, "
          f"the client shares them)")  # fmt: skip
    return out


# -- (3) GPU ---------------------------------------------------------------------------------
def gpu_unavailable() -> str | None:
    import onnxruntime as ort

    if not torch.cuda.is_available():
        return "torch sees no CUDA device on this machine"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


def gpu_worker_client(threads: int) -> tuple[Any, Any]:
    """A cluster of one GPU worker (dask-cuda's recipe, ``threads`` threads and GPU task
    slots) and its client; no CPU worker, so nothing else competes for the cores."""
    from distributed import Client, Scheduler, SpecCluster

    from e2e_coffea.runner.cuda_cluster import LOOPBACK, gpu_worker_specs

    cluster = SpecCluster(
        workers=gpu_worker_specs(1, threads=threads),
        scheduler={"cls": Scheduler, "options": {"host": LOOPBACK, "dashboard_address": ":0"}},
        silence_logs=logging.ERROR,
    )
    client = Client(cluster)
    client.wait_for_workers(1, timeout=180)
    return cluster, client


def bench_gpu(
    fileset_path: Path, files: list[str], spec: Any, onnx_path: Path, cuts: Any, args: Any
) -> dict[str, Any]:
    """End to end on the GPU (one process; then a Dask GPU worker with 1, 2, 4 threads)
    against onnxruntime on frames already on the device (goal: >= 70% for ResNet-15)."""
    from e2e_coffea.inference.cuda import run_cuda

    why = gpu_unavailable()
    if why:
        print(f"(3) GPU: skipped, {why}")
        return {"skipped": why}
    kw: dict[str, Any] = {"chunksize": args.chunksize, "device": "cuda", "progress": False}
    best(lambda: run(fileset_path, [spec], executor="iterative", **kw), 1)
    t_gpu, res = best(lambda: run(fileset_path, [spec], executor="iterative", **kw), args.repeat)
    n = int(res.output["metrics"]["objects"])
    gframes = selected_frames(files, spec, cuts, device="cuda")
    if len(gframes) != n:
        msg = f"frame count {len(gframes)} != processor objects {n}"
        raise RuntimeError(msg)
    gsess = get_session(onnx_path, "cuda", 1)

    def bare_gpu(gsess: Any = gsess, gframes: Any = gframes) -> Any:
        out = run_cuda(gsess, gframes, batch_size=BATCH)
        torch.cuda.synchronize()
        return out

    bare_gpu()
    t_gbare, ref = best(bare_gpu, args.repeat)
    gsess16 = get_session(onnx_path, "cuda", 1, fp16=True)
    bare_gpu(gsess16)
    t_g16, out16 = best(lambda: bare_gpu(gsess16), args.repeat)
    fp16_diff = float((out16 - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
    out: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0),
        "objects": n,
        "resident_ort_per_s": n / t_gbare,
        "one_process_per_s": n / t_gpu,
        "one_process_over_resident": t_gbare / t_gpu,
        "resident_ort_fp16_per_s": n / t_g16,
        "fp16_max_rel_logit_diff": fp16_diff,
        "goal": 0.7,
        "worker": {},
    }
    print(
        f"(3) GPU, {n} jets: ORT on device-resident frames {n / t_gbare:8.1f} jets/s; "
        f"end to end in one process {n / t_gpu:8.1f} jets/s ({t_gbare / t_gpu:.0%}); "
        f"fp16 resident {n / t_g16:8.1f} jets/s (max logit change {fp16_diff:.1e} of the largest)"
    )
    for threads in args.gpu_threads:
        try:
            cluster, client = gpu_worker_client(threads)
        except Exception as err:  # dask-cuda missing, say: report, do not hide
            out["worker"][threads] = f"{type(err).__name__}: {err}"
            print(f"    GPU worker x{threads} threads: not measured ({type(err).__name__}: {err})")
            continue
        try:
            dkw = dict(kw, executor="dask", client=client)
            best(lambda: run(fileset_path, [spec], **dkw), 1)
            t_w, res_w = best(lambda: run(fileset_path, [spec], **dkw), args.repeat)
        finally:
            client.close()
            cluster.close()
        rate = res_w.output["metrics"]["objects"] / t_w
        out["worker"][threads] = rate
        print(
            f"    GPU worker, {threads} thread(s): {rate:8.1f} jets/s "
            f"({rate * t_gbare / n:.0%} of resident ORT; goal >= 70% for ResNet-15)"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=400, help="events in all, half tau, half qcd")
    ap.add_argument("--models", nargs="+", default=["simplenet", "resnet15"])
    ap.add_argument("--chunksize", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-dask", action="store_true", help="skip part 4")
    ap.add_argument("--keep", action="store_true", help="keep the generated sample and models")
    ap.add_argument("--gpu-only", action="store_true", help="only part 3 (gpu_check.sh)")
    ap.add_argument(
        "--synthetic",
        action="store_true",
        help="synthetic events (frames.testing) instead of Pythia: for machines without it",
    )
    ap.add_argument(
        "--gpu-threads", type=int, nargs="+", default=[1, 2, 4], help="GPU worker threads (3)"
    )
    ap.add_argument("--json", default=None, help="write the GPU figures of part 3 here")
    ap.add_argument(
        "--realistic-events",
        type=int,
        nargs="+",
        default=[10_000],
        help="events of the one big chunk of part 5 (0: skip); one value, or one per model",
    )
    ap.add_argument("--skip", type=int, nargs="*", default=[], choices=[1, 2, 3, 4, 5],
                    help="parts not to run")  # fmt: skip
    ap.add_argument("--dask-events", type=int, nargs="+", default=[0],
                    help="part 4 on a tiled file of this many events (0: on the small sample); "
                    "one value, or one per model (-1: no part 4 for that model)")  # fmt: skip
    ap.add_argument("--torch-wrapper-realistic", action="store_true",
                    help="part 5 also runs coffea's torch_wrapper on the same chunk (issue 25)")  # fmt: skip
    ap.add_argument("--dask-chunksize", type=int, default=1000)
    ap.add_argument("--results-json", default=None, help="write parts 4 and 5 here")
    ap.add_argument("--only-realistic", action="store_true", help="only part 5")
    args = ap.parse_args()

    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    torch.set_num_threads(cores)
    tmp = Path(tempfile.mkdtemp(prefix="e2e-bench-run-"))
    t0 = time.perf_counter()
    if args.synthetic:
        from e2e_coffea.frames.testing import write_synthetic_fileset

        per_file = max(1, args.events // 4)
        fileset_path = write_synthetic_fileset(tmp / "sample", files=4, events=per_file, seed=7)
    else:
        from e2e_coffea.sim.generate import generate

        paths = generate(
            ["tau", "qcd"],
            args.events // 2,
            tmp / "sample",
            layout="sparse",
            seed=7,
            nproc=min(2, cores),
        )
        fileset_path = paths["sparse"]
    from e2e_coffea.io import load_fileset

    fileset = load_fileset(fileset_path)
    files = [p for e in fileset.values() for p in e["files"]]
    what = "synthetic" if args.synthetic else "tau + qcd"
    print(
        f"sample: {args.events} events ({what}, sparse) generated in {time.perf_counter() - t0:.0f} s; "
        f"{cores} cores; chunksize {args.chunksize}; best of {args.repeat}"
    )
    models = export_models(tmp, args.models)
    cuts = JetCuts()
    kw: dict[str, Any] = {"chunksize": args.chunksize, "device": "cpu", "progress": False}
    gpu: dict[str, Any] = {}
    results: dict[str, Any] = {}
    # measured batch sizes: this run's own cache, not the user's
    os.environ.setdefault("E2E_COFFEA_CACHE_DIR", str(tmp / "cache"))

    for name, (onnx_path, jit_path) in models.items():
        spec = resolve_tagger(onnx_path)
        print(
            f"\n=== {name} ({sum(p.numel() for p in create_model(name, 3, 1).parameters()):,} params) ==="
        )
        if args.gpu_only:
            gpu[name] = bench_gpu(fileset_path, files, spec, onnx_path, cuts, args)
            continue
        per_model = args.realistic_events
        n_real = per_model[0] if len(per_model) == 1 else per_model[list(models).index(name)]
        dask_all = args.dask_events
        n_dask = dask_all[0] if len(dask_all) == 1 else dask_all[list(models).index(name)]
        if n_real and 5 not in args.skip:
            big = tmp / f"tiled-{n_real}.root"
            if not big.exists():
                tiled_file(files, big, n_real)
            warm = tmp / "tiled-1000.root"
            if not warm.exists():
                tiled_file(files, warm, 1000)
            results.setdefault(name, {})["realistic"] = bench_realistic(
                big, spec, onnx_path, cores, args.repeat, warm,
                jit_path if args.torch_wrapper_realistic else None,
            )  # fmt: skip
        if args.only_realistic:
            continue
        if 4 not in args.skip and n_dask > 0:
            results.setdefault(name, {})["dask"] = bench_dask(tmp, files, spec, cores, args, n_dask)
        if {1, 2} <= set(args.skip):
            continue
        # -- (1) Runner + processor vs bare onnxruntime -------------------------------------
        clear_cache()
        best(lambda: run(fileset_path, [spec], executor="iterative", **kw), 1)
        t_run, res = best(
            lambda: run(fileset_path, [spec], executor="iterative", **kw),
            args.repeat,
        )
        n = res.output["metrics"]["objects"]
        frames = selected_frames(files, spec, cuts)
        if len(frames) != n:
            msg = f"frame count {len(frames)} != processor objects {n}"
            raise RuntimeError(msg)
        sess = get_session(onnx_path, "cpu", cores)

        def bare(sess: Any = sess, frames: Any = frames) -> np.ndarray:
            return np.concatenate(
                [
                    sess.run(None, {"frames": frames[i : i + BATCH]})[0]
                    for i in range(0, len(frames), BATCH)
                ]
            )

        bare()
        t_ort, logits_ort = best(bare, args.repeat)
        m = res.output["metrics"]
        print(f"(1) jets: {n}  ORT threads: {cores}")
        print(
            f"    bare onnxruntime session.run : {n / t_ort:8.1f} jets/s  ({n / t_ort / cores:7.1f} per core)"
        )
        print(
            f"    Runner + E2ETaggerProcessor  : {n / t_run:8.1f} jets/s  ({n / t_run / cores:7.1f} per core)"
        )
        inside = m["time_read"] + m["time_frames"] + m["time_inference"]
        print(
            f"    overhead: {100 * (t_run / t_ort - 1):+.0f} % time vs bare ORT; of {t_run:.2f} s wall: "
            f"read {m['time_read']:.2f}, frames {m['time_frames']:.2f}, inference {m['time_inference']:.2f}, "
            f"rest {t_run - inside:.2f} s (preflight, coffea's per-chunk file open, merging; "
            f"{m['chunks']} chunks)"
        )
        # -- (2) coffea.ml_tools.torch_wrapper --------------------------------------------
        try:
            twp = torch_wrapper_processor(jit_path, spec, cuts)
            best(lambda: run_torch_wrapper(fileset, twp, args.chunksize), 1)
            t_tw, out_tw = best(
                lambda: run_torch_wrapper(fileset, twp, args.chunksize),
                args.repeat,
            )
            same = out_tw["objects"] == n
            net = torch.jit.load(str(jit_path)).eval()

            def bare_torch(net: Any = net, frames: Any = frames) -> np.ndarray:
                with torch.no_grad():
                    return np.concatenate(
                        [
                            net(torch.from_numpy(frames[i : i + BATCH])).numpy()
                            for i in range(0, len(frames), BATCH)
                        ]
                    )

            bare_torch()
            t_bt, logits_t = best(bare_torch, args.repeat)
            diff = float(np.abs(logits_t - logits_ort).max())
            print(
                f"(2) coffea torch_wrapper + Runner: {out_tw['objects'] / t_tw:8.1f} jets/s "
                f"(same jets: {same}; wrapper on {'cuda' if torch.cuda.is_available() else 'cpu'}); "
                f"ours / torch_wrapper = {t_tw / t_run:.2f}x"
            )
            print(
                f"    bare torch (TorchScript) forward: {n / t_bt:8.1f} jets/s; bare ORT / bare torch = "
                f"{t_bt / t_ort:.2f}x; max |logit diff| ORT vs torch {diff:.1e}"
            )
        except Exception as err:  # report, do not hide, why the comparison could not run
            print(f"(2) torch_wrapper comparison failed: {type(err).__name__}: {err}")
        # -- (3) GPU ------------------------------------------------------------------------
        gpu[name] = bench_gpu(fileset_path, files, spec, onnx_path, cuts, args)
        # -- (4) Dask scaling -----------------------------------------------------------------
        if args.no_dask or n_dask or 4 in args.skip:
            continue
        from distributed import Client

        from e2e_coffea.runner.cluster import local_cluster

        rates = {}
        for nw in (1, 2):
            cluster = local_cluster(nw, 0)
            client = Client(cluster)
            try:
                client.wait_for_workers(nw, timeout=120)
                dkw = dict(kw, client=client)
                best(lambda: run(fileset_path, [spec], executor="dask", **dkw), 1)
                t_d, res_d = best(
                    lambda: run(fileset_path, [spec], executor="dask", **dkw),
                    args.repeat,
                )
                rates[nw] = res_d.output["metrics"]["objects"] / t_d
            finally:
                client.close()
                cluster.close()
        eff = rates[2] / (2 * rates[1])
        print(
            f"(4) LocalCluster, 1-thread workers: 1 worker {rates[1]:8.1f} jets/s, 2 workers "
            f"{rates[2]:8.1f} jets/s; scaling efficiency {100 * eff:.0f} % (on {cores} cores)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(gpu, indent=1) + "\n")
    if args.results_json:
        Path(args.results_json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    if args.keep:
        print(f"\nfiles left in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
