"""onnxruntime on CUDA tensors that torch made: one stream, one lock, no host round trip.

Stream ordering. torch writes the frames on its current stream (the legacy default
stream, handle 0, unless the caller chose another). onnxruntime's CUDA provider runs on a
stream of its own unless it is given one, and its option parser treats handle 0 as "none
given" (``has_user_compute_stream = user_compute_stream != nullptr``), so it cannot simply
be handed torch's default stream. Instead every process keeps one dedicated torch stream
per device (:func:`inference_stream`); each CUDA session is built with that stream as its
``user_compute_stream``, and :func:`run_cuda`

1. makes the inference stream wait for the caller's stream (the frames are complete on
   the device before onnxruntime reads them; no host synchronisation),
2. copies each batch into the bound input buffer and runs the session, both on the
   inference stream, so copy, model and output copy are ordered by the stream itself,
3. makes the caller's stream wait for the inference stream, so whatever the caller does
   next with the result (sigmoid, ``.cpu()``) sees finished scores.

A session built without that stream (``get_session`` always sets it; a foreign session
might not) is run with explicit synchronisation instead: the host waits for the caller's
stream before each run and for onnxruntime's outputs after it.

One lock per device and process serialises the GPU part of concurrent chunks: a GPU
worker runs several threads so that one reads and builds frames while another infers, but
only one drives the session (bounded memory, no contention for the bound buffers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..exceptions import DeviceFallbackError
from .batching import run_in_batches

__all__ = ["device_lock", "inference_stream", "run_cuda", "session_stream"]

_STREAMS: dict[int, Any] = {}
_LOCKS: dict[int, threading.Lock] = {}
_GUARD = threading.Lock()


def _index(device: Any) -> int:
    import torch

    index: int | None = torch.device(device).index  # None for plain "cuda"
    return torch.cuda.current_device() if index is None else index


def inference_stream(device: Any = "cuda") -> Any:
    """This process's inference stream on ``device`` (made once; never the default stream)."""
    import torch

    i = _index(device)
    with _GUARD:
        if i not in _STREAMS:
            _STREAMS[i] = torch.cuda.Stream(device=i)  # type: ignore[no-untyped-call]
        return _STREAMS[i]


def device_lock(device: Any = "cuda") -> threading.Lock:
    """The lock that lets one thread at a time run inference on ``device``."""
    i = _index(device)
    with _GUARD:
        return _LOCKS.setdefault(i, threading.Lock())


def session_stream(sess: Any) -> int | None:
    """The ``user_compute_stream`` a CUDA session runs on (None: onnxruntime's own)."""
    try:
        opts = sess.get_provider_options().get("CUDAExecutionProvider", {})
    except (AttributeError, RuntimeError):
        return None
    value = int(opts.get("user_compute_stream", 0) or 0)
    return value if value and str(opts.get("has_user_compute_stream", "1")) != "0" else None


def run_cuda(
    sess: Any,
    inputs: Mapping[str, Any] | Any,
    *,
    batch_size: int = 256,
    on_halve: Callable[[int], None] | None = None,
) -> Any:
    """The session's first output for CUDA tensors ``inputs`` (a tensor for a
    one-input model, or ``{input name: tensor}``), as a float32 CUDA tensor ``(n, n_out)``.

    Batches are padded to ``batch_size`` so onnxruntime and cuDNN see one shape and reuse
    their kernels. On out-of-memory the batch is halved and retried
    (:func:`~e2e_coffea.inference.batching.run_in_batches`) and ``on_halve`` is told the
    new size.
    """
    import torch

    xs = _named_inputs(sess, inputs)
    first = next(iter(xs.values()))
    if not all(isinstance(x, torch.Tensor) and x.device.type == "cuda" for x in xs.values()):
        where = {k: str(getattr(x, "device", type(x).__name__)) for k, x in xs.items()}
        msg = f"run_cuda wants CUDA tensors, got {where}"
        raise DeviceFallbackError(msg)
    dev = first.device
    n = int(first.shape[0])
    out_meta = sess.get_outputs()[0]
    n_out = int(out_meta.shape[-1]) if isinstance(out_meta.shape[-1], int) else 1
    xs = {k: x.contiguous().float() for k, x in xs.items()}
    stream = inference_stream(dev)
    shared = session_stream(sess) == stream.cuda_stream
    caller = torch.cuda.current_stream(dev)
    results = torch.empty((n, n_out), dtype=torch.float32, device=dev)
    with device_lock(dev):
        stream.wait_stream(caller)
        bound = _Bound(sess, xs, out_meta.name, n_out, dev)
        with torch.cuda.stream(stream):

            def one(start: int, stop: int, size: int) -> None:
                bound.ensure(size)
                for k, x in xs.items():
                    bound.inputs[k][: stop - start].copy_(x[start:stop])
                    if stop - start < size:
                        bound.inputs[k][stop - start :].zero_()
                if not shared:  # the host orders what the streams do not
                    stream.synchronize()
                sess.run_with_iobinding(bound.binding)
                if not shared:
                    bound.binding.synchronize_outputs()
                results[start:stop].copy_(bound.output[: stop - start])

            def halved(size: int) -> None:
                bound.release()
                torch.cuda.empty_cache()
                if on_halve is not None:
                    on_halve(size)

            run_in_batches(n, batch_size, one, on_halve=halved)
        caller.wait_stream(stream)
        for x in (*xs.values(), results):  # made on the caller's stream, used on ours
            x.record_stream(stream)
    return results


def _named_inputs(sess: Any, inputs: Mapping[str, Any] | Any) -> dict[str, Any]:
    if isinstance(inputs, Mapping):
        return dict(inputs)
    return {sess.get_inputs()[0].name: inputs}


class _Bound:
    """Input and output buffers of one batch size, bound to the session once."""

    def __init__(self, sess: Any, xs: Mapping[str, Any], out_name: str, n_out: int, dev: Any):
        self.sess, self.xs, self.out_name, self.n_out, self.dev = sess, xs, out_name, n_out, dev
        self.size = 0
        self.inputs: dict[str, Any] = {}
        self.output: Any = None
        self.binding: Any = None

    def ensure(self, size: int) -> None:
        import torch

        if size == self.size:
            return
        self.release()
        dev_id = self.dev.index or 0
        binding = self.sess.io_binding()
        for k, x in self.xs.items():
            buf = torch.empty((size, *x.shape[1:]), dtype=torch.float32, device=self.dev)
            binding.bind_input(k, "cuda", dev_id, np.float32, tuple(buf.shape), buf.data_ptr())
            self.inputs[k] = buf
        self.output = torch.empty((size, self.n_out), dtype=torch.float32, device=self.dev)
        binding.bind_output(
            self.out_name, "cuda", dev_id, np.float32, tuple(self.output.shape),
            self.output.data_ptr(),
        )  # fmt: skip
        self.binding, self.size = binding, size

    def release(self) -> None:
        self.inputs, self.output, self.binding, self.size = {}, None, None, 0
