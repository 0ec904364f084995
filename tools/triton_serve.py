#!/usr/bin/env python3
"""Serve ONNX files from a real Triton Inference Server (PyTriton), for tests and benchmarks.

Runs INSIDE the venv that ``tools/make-triton-venv.sh`` builds (nvidia-pytriton bundles
tritonserver 2.51 with its Python backend, no GPU needed); it must not import e2e_coffea,
which does not live there. Each model is an onnxruntime session behind a PyTriton Python
callable, so the server runs exactly the file the local backend runs, with the input and
output names and shapes read from the file. Binds 127.0.0.1 only.

    triton_serve.py --http-port 8000 --grpc-port 8001 [--max-batch-size 16] \
        [NAME=]PATH.onnx[@MAX_BATCH_SIZE] ... [--repo DIR]

``--repo DIR`` serves a Triton model repository of ``onnxruntime_onnx`` models (as
``e2e-coffea triton-repo`` writes): each ``DIR/<name>/1/model.onnx`` under ``<name>``,
with the tensors, dims and ``max_batch_size`` of its ``config.pbtxt``, not of the file,
so the server holds requests to exactly what that config promises.

``--sparse [NAME=]PATH.onnx`` serves a tagger on the sparse wire (hits in, the server
builds the frames: :mod:`e2e_coffea.inference.triton_sparse`); only this mode imports
e2e_coffea, from this repository (the venv holds its dependencies: awkward, uproot,
numba). ``--sparse-frames`` also serves ``NAME_frames``, which answers the frames it built
(for the tests that compare them with local frames bit for bit).

``--python-repo DIR`` runs the bundled ``tritonserver`` itself (no PyTriton) on a model
repository of Python-backend models, as ``e2e-coffea triton-repo --wire sparse`` writes
it: the server a facility runs, with this repository on the models' ``PYTHONPATH``.

Prints ``TRITON READY http=127.0.0.1:P grpc=127.0.0.1:Q models=a,b`` once every model is
loaded, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

READY = "TRITON READY"
_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}


def _parse_model(text: str, default_mbs: int) -> tuple[str, Path, int]:
    spec, _, mbs = text.partition("@")
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).stem, spec
    p = Path(path)
    if not p.is_file():
        sys.exit(f"triton_serve: no such ONNX file {p}")
    return name, p, int(mbs) if mbs else default_mbs


def _dims(shape: list[Any], batched: bool) -> tuple[int, ...]:
    """onnxruntime's shape -> Triton dims: named/unknown axes become -1; with Triton
    batching the leading batch axis is Triton's, not the model's."""
    dims = tuple(d if isinstance(d, int) and d > 0 else -1 for d in shape)
    return dims[1:] if batched else dims


def _tensors(args: list[Any], batched: bool) -> list[Tensor]:
    out = []
    for a in args:
        if a.type not in _TYPES:
            sys.exit(f"triton_serve: tensor {a.name} has type {a.type}, not one of {list(_TYPES)}")
        out.append(Tensor(name=a.name, dtype=_TYPES[a.type], shape=_dims(a.shape, batched)))
    return out


def _repo_models(repo: Path) -> list[tuple[str, Path, int, Any]]:
    """(name, onnx file, max_batch_size, (inputs, outputs)) per config.pbtxt in ``repo``."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as pb

    dtypes = {pb.TYPE_FP32: np.float32, pb.TYPE_FP64: np.float64, pb.TYPE_INT64: np.int64}
    out = []
    for config in sorted(repo.glob("*/config.pbtxt")):
        c = text_format.Parse(config.read_text(), pb.ModelConfig())
        path = config.parent / "1" / (c.default_model_filename or "model.onnx")
        if c.platform != "onnxruntime_onnx" or not path.is_file():
            sys.exit(f"triton_serve: {config}: platform {c.platform!r}, model {path}: not servable")
        tensors = [
            [Tensor(name=t.name, dtype=dtypes[t.data_type], shape=tuple(t.dims)) for t in ts]
            for ts in (c.input, c.output)
        ]
        out.append((c.name or config.parent.name, path, c.max_batch_size, tensors))
    if not out:
        sys.exit(f"triton_serve: no */config.pbtxt in {repo}")
    return out


def _infer_func(sess: ort.InferenceSession) -> Any:
    """One session.run per request: PyTriton hands a list of requests (several when the
    dynamic batcher grouped them); each request is already a whole batch."""
    names = [o.name for o in sess.get_outputs()]

    def infer(requests: list[Any]) -> list[dict[str, np.ndarray]]:
        replies = []
        for req in requests:
            outs = sess.run(names, {k: np.asarray(v) for k, v in req.items()})
            replies.append(dict(zip(names, outs, strict=True)))
        return replies

    return infer


def _sparse_server(path: Path, threads: int) -> Any:
    """e2e_coffea's SparseServer (inference/triton_python_model.py, the Python-backend
    model of ``triton-repo --wire sparse``), loaded by path: the inference package's
    __init__ needs Dask, which this venv does not hold."""
    import importlib.util

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    spec = importlib.util.spec_from_file_location(
        "e2e_triton_python_model", repo / "e2e_coffea" / "inference" / "triton_python_model.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SparseServer(path, threads=threads)


def _bind_sparse(triton: Triton, text: str, threads: int, frames: bool) -> list[str]:
    """Bind ``[NAME=]PATH.onnx`` on the sparse wire (and ``NAME_frames`` with ``frames``)."""
    name, path, _ = _parse_model(text, 0)
    model = _sparse_server(path, threads)
    inputs = [Tensor(name=n, dtype=d.type, shape=shape) for n, d, shape in model.inputs]
    outputs = _tensors(model.session.get_outputs(), batched=False)

    def infer(requests: list[Any]) -> list[dict[str, np.ndarray]]:
        return [model.infer({k: np.asarray(v) for k, v in r.items()}) for r in requests]

    def show(requests: list[Any]) -> list[dict[str, np.ndarray]]:
        return [
            {"frames": model.frames({k: np.asarray(v) for k, v in r.items()})} for r in requests
        ]

    config = ModelConfig(max_batch_size=0, batching=False)
    kw = {"inputs": inputs, "config": config, "strict": True}
    triton.bind(model_name=name, infer_func=infer, outputs=outputs, **kw)
    names = [f"{name}@sparse"]
    if frames:
        frame = [Tensor(name="frames", dtype=np.float32, shape=(-1, -1, -1, -1))]
        triton.bind(model_name=f"{name}_frames", infer_func=show, outputs=frame, **kw)
        names.append(f"{name}_frames@sparse")
    return names


def _serve_python_repo(args: argparse.Namespace) -> None:
    """tritonserver on ``args.python_repo`` until SIGTERM/SIGINT (see the module docstring)."""
    import shutil
    import subprocess
    import tempfile
    import time
    import urllib.request

    import pytriton

    dist = Path(pytriton.__file__).parent / "tritonserver"
    work = Path(tempfile.mkdtemp(prefix="e2e-tritonserver-"))
    backend = work / "backends" / "python"
    backend.mkdir(parents=True)
    for f in (dist / "backends" / "python").iterdir():  # the backend, plus this Python's stub
        (backend / f.name).symlink_to(f)
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    stub = dist / "python_backend_stubs" / ver / "triton_python_backend_stub"
    (backend / stub.name).symlink_to(stub)
    libs = Path(pytriton.__file__).parents[1] / "nvidia_pytriton.libs"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env["LD_LIBRARY_PATH"] = f"{libs}:{env.get('LD_LIBRARY_PATH', '')}"
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the stub finds this venv
    cmd = [
        str(dist / "bin" / "tritonserver"),
        *(
            "--model-repository",
            str(args.python_repo),
            "--backend-directory",
            str(work / "backends"),
        ),
        *("--http-address", "127.0.0.1", "--http-port", str(args.http_port)),
        *("--grpc-address", "127.0.0.1", "--grpc-port", str(args.grpc_port)),
        *("--allow-metrics", "false", "--exit-timeout-secs", str(args.exit_timeout)),
    ]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    proc = subprocess.Popen(cmd, env=env)
    try:
        url = f"http://127.0.0.1:{args.http_port}/v2/health/ready"
        while not stop.is_set():
            if proc.poll() is not None:
                sys.exit(f"triton_serve: tritonserver exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        names = ",".join(sorted(p.parent.name for p in args.python_repo.glob("*/config.pbtxt")))
        sys.stdout.write(
            f"{READY} http=127.0.0.1:{args.http_port} grpc=127.0.0.1:{args.grpc_port} "
            f"models={names} pid={os.getpid()}\n"
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            if proc.poll() is not None:
                sys.exit("triton_serve: the Triton server died")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", help="[NAME=]PATH.onnx[@MAX_BATCH_SIZE]")
    ap.add_argument(
        "--sparse", action="append", default=[], help="[NAME=]PATH.onnx on the sparse wire"
    )
    ap.add_argument("--sparse-frames", action="store_true", help="also serve NAME_frames")
    ap.add_argument("--python-repo", type=Path, help="run tritonserver on this repository")
    ap.add_argument("--repo", type=Path, help="a Triton model repository of ONNX models")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--max-batch-size", type=int, default=64, help="0: no Triton batching")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads")
    ap.add_argument("--instances", type=int, default=1, help="model instances (sessions)")
    ap.add_argument(
        "--exit-timeout",
        type=int,
        default=5,
        help="seconds tritonserver waits on open connections when stopped (its default: 30)",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    if args.python_repo:
        _serve_python_repo(args)
        return
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.http_port,
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        allow_metrics=False,
        exit_timeout_secs=args.exit_timeout,
        log_verbose=1 if args.verbose else 0,
    )
    # statistics stay open (tests count requests); loading/unloading models does not
    security = TritonSecurityConfig(restricted_endpoints=["model-repository", "shared-memory"])
    triton = Triton(config=config, security_config=security)
    models = [(*_parse_model(t, args.max_batch_size), None) for t in args.models]
    models += _repo_models(args.repo) if args.repo else []
    if not models and not args.sparse:
        sys.exit("triton_serve: give ONNX files, --sparse or --repo")
    names = []
    for text in args.sparse:
        names += _bind_sparse(triton, text, args.threads, args.sparse_frames)
    for name, path, mbs, tensors in models:
        sessions = [
            ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            for _ in range(max(1, args.instances))
        ]
        batched = mbs > 0
        inputs, outputs = tensors or (
            _tensors(sessions[0].get_inputs(), batched),
            _tensors(sessions[0].get_outputs(), batched),
        )
        triton.bind(
            model_name=name,
            infer_func=[_infer_func(s) for s in sessions],
            inputs=inputs,
            outputs=outputs,
            config=ModelConfig(max_batch_size=mbs, batching=batched, batcher=DynamicBatcher()),
            strict=True,
        )
        names.append(f"{name}@{mbs}")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    triton.run()  # returns once the server and every model are ready
    try:
        sys.stdout.write(
            f"{READY} http=127.0.0.1:{args.http_port} grpc=127.0.0.1:{args.grpc_port} "
            f"models={','.join(names)} pid={os.getpid()}\n"
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            if not triton.is_alive():
                sys.exit("triton_serve: the Triton server died")
    finally:
        triton.stop()


if __name__ == "__main__":
    main()
