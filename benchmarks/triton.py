"""Triton against local onnxruntime, frames/s on the same jets, CPU only, one run.

The frames of every selected jet of a freshly generated tau + qcd sample (sparse layout,
shipped quark/gluon taggers: 3 x 125 x 125) go through

1. local onnxruntime (``OnnxBackend``, what workers run without ``--triton``): the baseline;
2. ``TritonBackend`` over gRPC, binary tensors (the default);
3. ``TritonBackend`` over HTTP, binary tensors;
4. the former client: JSON tensors over HTTP (as e2e-coffea sent them before), rebuilt here;
5. coffea's ``ml_tools.triton_wrapper`` over gRPC on the same server.

``--wire sparse`` instead compares, from the same chunks in memory through ``Tagger``
(selection, inputs, inference; the CPU inputs built ahead in a thread as in the main job):

1. local onnxruntime: frames built here, onnxruntime here;
2. Triton, dense wire: frames built here and sent;
3. Triton, sparse wire: each jet's hits sent, frames built on the server
   (``triton_serve.py --sparse``) with the same code, onnxruntime there;

and the bytes per jet of each wire (the tensors' own bytes, as binary gRPC carries them).

The server is tools/triton_serve.py (a real tritonserver 2.51 from nvidia-pytriton, its
Python backend running the same ONNX file with onnxruntime) on 127.0.0.1, sharing this
machine's cores with the client; every path uses the same request size and onnxruntime
the same thread count. The paths take turns pass by pass (the machine is shared, the
load drifts); the table gives the best and the median pass. Every path's outputs are
checked against the baseline's before its time counts.

    python benchmarks/triton.py --out benchmarks/results/<folder>/triton.txt
    python benchmarks/triton.py --wire sparse --batch 256 --out .../triton_sparse.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from e2e_coffea.frames import build_jet_frames
from e2e_coffea.inference import OnnxBackend, resolve_tagger
from e2e_coffea.inference.triton import TritonBackend

TAGGERS = ("qg_simplenet", "qg_resnet15")


def launcher() -> Any:
    path = Path(__file__).resolve().parents[1] / "tools" / "triton_launch.py"
    spec = importlib.util.spec_from_file_location("e2e_triton_launch", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def jet_frames(files: list[str], spec: Any) -> np.ndarray:
    """Frames of the jets the main job scores (pT > 20 GeV, |eta| < 2.4, window inside)."""
    parts = []
    for path in files:
        with uproot.open(path) as f:
            chunk = f["Events"].arrays()
        sel = (chunk["Jet_pt"] > 20) & (abs(chunk["Jet_eta"]) < 2.4) & (chunk["Jet_inFrame"] != 0)
        frames, _ = build_jet_frames(
            chunk,
            layout="sparse",
            channels=list(spec.contract.channels),
            jets=sel,
            norm=spec.contract.normalisation and _norm(spec.contract.normalisation),
        )
        parts.append(frames)
    return np.concatenate(parts)


def _norm(d: dict[str, Any]) -> Any:
    from e2e_coffea.frames.normalisation import Normalisation

    return Normalisation.from_dict(d)


def json_client(url: str, model: str, batch: int) -> Callable[[np.ndarray], np.ndarray]:
    """The former e2e-coffea client: tensors as JSON lists over HTTP, one shared client."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=url, network_timeout=600.0)

    def infer(x: np.ndarray) -> np.ndarray:
        parts = []
        for a in range(0, len(x), batch):
            part = np.ascontiguousarray(x[a : a + batch])
            inp = httpclient.InferInput("frames", list(part.shape), "FP32")
            inp.set_data_from_numpy(part, binary_data=False)
            out = httpclient.InferRequestedOutput("outputs", binary_data=False)
            parts.append(client.infer(model, [inp], outputs=[out]).as_numpy("outputs"))
        return np.concatenate(parts)

    return infer


def coffea_wrapper(url: str, model: str, batch: int) -> Callable[[np.ndarray], np.ndarray]:
    """coffea.ml_tools.triton_wrapper at its numpy level (the awkward layer on top only
    converts arrays); gRPC without TLS, as the server speaks it."""
    from coffea.ml_tools.triton_wrapper import triton_wrapper

    class Wrapper(triton_wrapper):  # type: ignore[misc]
        def prepare_awkward(self, *args: Any, **kwargs: Any) -> Any:  # abstract; unused here
            raise NotImplementedError

    w = Wrapper(f"triton+grpc://{url}/{model}/1", client_args={"ssl": False}, batch_size=batch)

    def infer(x: np.ndarray) -> np.ndarray:
        inputs = {"frames": x}
        w.validate_numpy_input(["outputs"], inputs)
        return np.asarray(w.numpy_call(["outputs"], inputs)["outputs"])

    return infer


def versions() -> str:
    from importlib.metadata import version

    names = ("e2e-coffea", "tritonclient", "onnxruntime", "coffea", "numpy", "grpcio")
    return ", ".join(f"{n} {version(n)}" for n in names)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def sparse_report(args: Any, files: list[str], specs: list[Any], tmp: Path, cores: int,
                  say: Callable[[str], None], rows: list[dict[str, Any]]) -> None:  # fmt: skip
    """Local onnxruntime, Triton dense and Triton sparse, through ``Tagger``, same chunks."""
    import awkward as ak

    from e2e_coffea.frames import select_objects
    from e2e_coffea.inference import Tagger
    from e2e_coffea.inference.triton_sparse import sparse_inputs

    chunks = []
    for path in files:
        with uproot.open(path) as f:
            chunks.append(f["Events"].arrays())
    models = [a for s in specs for a in (s.path, "--sparse", f"{s.name}_sparse={s.path}")]
    server = launcher().start_server(
        models, tmp / "server.log", max_batch_size=args.batch, threads=cores
    )
    say(f"# Triton sparse wire vs dense wire vs local onnxruntime, {time.strftime('%Y-%m-%d')}")
    say(
        f"{cpu_model()}, {cores} usable cores, load average "
        f"{'/'.join(f'{v:.1f}' for v in os.getloadavg())} at start (the machine is shared: "
        f"read ratios, measured in this one run); server: tritonserver 2.51 (nvidia-pytriton "
        f"0.7.0) on 127.0.0.1 on the same cores, onnxruntime {cores} intra-op threads on both "
        f"sides; batch {args.batch} everywhere; {args.repeat} passes per path, taken in turn."
    )
    say(f"versions: {versions()}")
    try:
        for spec in specs:
            c = spec.contract
            sent = dense = jets = 0
            for chunk in chunks:
                sel = select_objects(chunk, "sparse", spec.kind).selection
                tensors, rec = sparse_inputs(chunk, "sparse", c, spec.kind, sel)
                sent += sum(x.nbytes for x in tensors.values())
                dense += len(rec) * 4 * c.n_channels * c.frame_size[0] * c.frame_size[1]
                jets += len(rec)
            say(f"\n## {spec.name}: {jets} jets in {len(chunks)} chunks")
            say(
                f"bytes per jet on the wire: dense {dense / jets:,.0f}, sparse {sent / jets:,.0f}"
                f" ({dense / sent:.0f}x fewer)"
            )
            kw: dict[str, Any] = {"device": "cpu", "batch_size": args.batch}
            taggers = {
                "local onnxruntime": Tagger(spec, **kw),
                "Triton gRPC, dense wire": Tagger(spec, triton=server.grpc, **kw),
                # the server holds the sparse model under its own name
                "Triton gRPC, sparse wire": Tagger(
                    dataclasses.replace(spec, name=f"{spec.name}_sparse"),
                    triton=server.grpc, triton_wire="sparse", **kw,
                ),
            }  # fmt: skip

            def score(t: Any) -> np.ndarray:
                return np.concatenate([ak.to_numpy(ak.flatten(t(ch)), allow_missing=True)
                                       for ch in chunks])  # fmt: skip

            ref = np.ma.filled(score(taggers["local onnxruntime"]), np.nan)
            for name, t in taggers.items():  # warm; every path agrees before its time counts
                np.testing.assert_allclose(np.ma.filled(score(t), np.nan), ref, rtol=1e-5,
                                           atol=1e-6, equal_nan=True, err_msg=name)  # fmt: skip
            times: dict[str, list[float]] = {name: [] for name in taggers}
            for _ in range(args.repeat):
                for name, t in taggers.items():
                    t0 = time.perf_counter()
                    score(t)
                    times[name].append(time.perf_counter() - t0)
            base = jets / min(times["local onnxruntime"])
            say("\n| path | jets/s (best) | jets/s (median) | best vs local |\n|---|---|---|---|")
            for name in taggers:
                rate, med = jets / min(times[name]), jets / float(np.median(times[name]))
                say(f"| {name} | {rate:.1f} | {med:.1f} | {rate / base:.2f} |")
                rows.append({"tagger": spec.name, "path": name, "jets_per_s": rate,
                             "median": med, "bytes_per_jet_dense": dense / jets,
                             "bytes_per_jet_sparse": sent / jets})  # fmt: skip
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=120, help="events in all, half tau, half qcd")
    ap.add_argument("--batch", type=int, default=64, help="objects per request, every path")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--taggers", nargs="+", default=list(TAGGERS))
    ap.add_argument("--json-repeat", type=int, default=1, help="passes of the slow JSON path")
    ap.add_argument("--out", type=Path, help="also write the report here")
    ap.add_argument("--wire", choices=["dense", "sparse"], default="dense",
                    help="sparse: hits vs frames vs local, through Tagger")  # fmt: skip
    args = ap.parse_args()

    from e2e_coffea.io import load_fileset
    from e2e_coffea.sim.generate import generate

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    tmp = Path(tempfile.mkdtemp(prefix="e2e-bench-triton-"))
    paths = generate(["tau", "qcd"], args.events // 2, tmp / "sample", layout="sparse", seed=11)
    files = [p for e in load_fileset(paths["sparse"]).values() for p in e["files"]]
    specs = [resolve_tagger(t) for t in args.taggers]
    rows: list[dict[str, Any]] = []
    if args.wire == "sparse":
        sparse_report(args, files, specs, tmp, cores, say, rows)
        write(args, lines, rows)
        return
    launch = launcher()
    server = launch.start_server(
        [s.path for s in specs], tmp / "server.log", max_batch_size=args.batch, threads=cores
    )
    say(f"# Triton vs local onnxruntime, {time.strftime('%Y-%m-%d')}")
    say(
        f"{cpu_model()}, {cores} usable cores, load average "
        f"{'/'.join(f'{v:.1f}' for v in os.getloadavg())} at start; python "
        f"{platform.python_version()}; server: tritonserver 2.51 (nvidia-pytriton 0.7.0, Python "
        f"backend + onnxruntime, {cores} intra-op threads) on 127.0.0.1, same machine; "
        f"request size {args.batch} for every path; {args.repeat} warm passes per path (JSON: "
        f"{args.json_repeat}), taken in turn so that every path sees the same load."
    )
    say(f"versions: {versions()}")
    try:
        for spec in specs:
            x = jet_frames(files, spec)
            n = len(x)
            say(f"\n## {spec.name}: {n} jets, {x.nbytes / 2**20:.0f} MiB of frames")
            local = OnnxBackend(spec.path, "cpu", args.batch, threads=cores)
            paths_: dict[str, tuple[Callable[[], Any], int]] = {
                "local onnxruntime": (lambda: local.infer({"frames": x}), args.repeat)
            }
            for protocol in ("grpc", "http"):
                b = TritonBackend(
                    server.url(protocol), spec.name, spec.contract, protocol=protocol,
                    batch_size=args.batch,
                )  # fmt: skip
                paths_[f"TritonBackend {protocol}, binary"] = (
                    lambda b=b: b.infer({"frames": x}),
                    args.repeat,
                )
            js = json_client(server.http, spec.name, args.batch)
            paths_["former client: HTTP, JSON"] = (lambda: js(x), args.json_repeat)
            cw = coffea_wrapper(server.grpc, spec.name, args.batch)
            paths_["coffea triton_wrapper gRPC"] = (lambda: cw(x), args.repeat)
            say(f"local onnxruntime: {cores} intra-op threads")
            times: dict[str, list[float]] = {name: [] for name in paths_}
            outs: dict[str, Any] = {}
            failed: dict[str, str] = {}
            for name, (fn, _) in paths_.items():  # warm, and check before anything counts
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        outs[name] = fn()
                    np.testing.assert_allclose(
                        outs[name], outs["local onnxruntime"], rtol=1e-4, atol=1e-4
                    )
                except Exception as err:
                    failed[name] = f"{type(err).__name__}: {str(err)[:200]}"
            for r in range(args.repeat):  # round robin: every path sees the same load
                for name, (fn, reps) in paths_.items():
                    if name in failed or r >= reps:
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t0 = time.perf_counter()
                        fn()
                        times[name].append(time.perf_counter() - t0)
            ref = n / min(times["local onnxruntime"])
            say(
                "\n| path | frames/s (best) | frames/s (median) | best vs local |\n|---|---|---|---|"
            )
            for name in paths_:
                if name in failed:
                    say(f"| {name} | failed: {failed[name]} | | |")
                    rows.append({"tagger": spec.name, "path": name, "error": failed[name]})
                    continue
                rate, med = n / min(times[name]), n / float(np.median(times[name]))
                say(f"| {name} | {rate:.1f} | {med:.1f} | {rate / ref:.2f} |")
                rows.append(
                    {"tagger": spec.name, "path": name, "frames_per_s": rate, "median": med,
                     "passes": len(times[name])}
                )  # fmt: skip
    finally:
        server.stop()
    write(args, lines, rows)


def write(args: Any, lines: list[str], rows: list[dict[str, Any]]) -> None:
    text = f"load average at end {'/'.join(f'{v:.1f}' for v in os.getloadavg())}"
    print(text, flush=True)
    lines.append(f"\n{text}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
