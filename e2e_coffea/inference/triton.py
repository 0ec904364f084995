"""Triton inference-server backend: same contract, same outputs as the local sessions.

Facilities that run an inference server (KServe v2 protocol, e.g. NVIDIA Triton) keep
the models there; workers send frames and get logits back. The server must serve each
tagger under its tagger name with the ONNX file's input and output names
(``e2e-coffea triton-repo`` writes such a model repository).

Tensors travel as binary over gRPC (``tritonclient.grpc``), or as binary over HTTP.
tritonclient's clients are not thread safe, so each thread gets its own, made lazily on
the worker; a :class:`TritonBackend` itself holds only its settings and pickles to Dask
workers as such. The model's metadata and config are read once per worker process,
checked against the tagger's contract, and requests are cut at the server's
``max_batch_size``. Transient failures (server unavailable, connection refused, deadline)
are retried with exponential backoff; anything else fails at once. The ``triton`` extra
installs tritonclient with both http and grpc: coffea's ``ml_tools`` imports the grpc
client whenever tritonclient is present, so an http-only install would break it.
"""

from __future__ import annotations

import atexit
import functools
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, ContractError, TritonError, TritonUnavailableError
from ..export.contract import Contract
from .triton_model import ModelInfo, TensorSpec, check_model, contract_tensors, output_widths

__all__ = [
    "DEFAULT_BACKOFF_S",
    "ModelInfo",
    "TritonBackend",
    "TritonError",
    "TritonUnavailableError",
    "is_transient",
]

Protocol = Literal["grpc", "http"]
T = TypeVar("T")

DEFAULT_BACKOFF_S: Final = 0.5
"""First retry delay; each further one doubles (with jitter, so workers do not retry in step)."""
DEFAULT_BATCH: Final = 256
"""Objects per request when the server sets no limit of its own (``max_batch_size`` 0)."""

_DATATYPES: Final = {"float32": "FP32", "int32": "INT32", "int16": "INT16"}
"""KServe-v2 datatypes of the arrays the clients send (frames; the sparse wire's hits)."""
_TRANSIENT_GRPC: Final = {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED"}
_TRANSIENT_HTTP: Final = {"429", "502", "503", "504"}
_MODEL_LOADING: Final = re.compile(r"unknown model|is not ready|no available version", re.I)


def _import(protocol: str) -> Any:
    try:
        if protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
    except ImportError as err:  # pragma: no cover - optional dependency
        msg = "the Triton backend needs tritonclient: pip install 'e2e-coffea[triton]'"
        raise ImportError(msg) from err
    return module


def is_transient(err: BaseException, *, model_was_served: bool = False) -> bool:
    """Worth retrying: the server is unreachable, restarting or too slow, as opposed to a
    request it understood and refused (unknown model, wrong input name or shape).

    ``model_was_served``: this process has read the model from the server before, so an
    "unknown model" or "not ready" answer means it is being (re)loaded, as after a server
    restart, not that the name is wrong: worth retrying too."""
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    status = getattr(err, "status", None)
    if callable(status):  # tritonclient.utils.InferenceServerException
        code = str(status())
        if code in _TRANSIENT_GRPC or code in _TRANSIENT_HTTP:
            return True
        return model_was_served and _MODEL_LOADING.search(str(err)) is not None
    return isinstance(err, OSError)  # sockets: reset, unreachable, ...


# -- per-process state: never pickled, made on the worker --------------------------------
@dataclass(frozen=True)
class _Endpoint:
    protocol: str
    url: str
    timeout: float


@dataclass
class _ClientPool:
    """One tritonclient client per thread for one endpoint, plus the list to close them."""

    endpoint: _Endpoint
    local: threading.local = field(default_factory=threading.local)
    made: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> Any:
        client = getattr(self.local, "client", None)
        if client is None:
            e = self.endpoint
            module = _import(e.protocol)
            if e.protocol == "grpc":
                client = module.InferenceServerClient(url=e.url)
            else:
                client = module.InferenceServerClient(
                    url=e.url, connection_timeout=e.timeout, network_timeout=e.timeout
                )
            self.local.client = client
            with self.lock:
                self.made.append(client)
        return client

    def drop(self) -> None:
        """Forget this thread's client (after a transient failure: a fresh channel does
        not wait out gRPC's reconnect backoff when the server is back)."""
        client = getattr(self.local, "client", None)
        self.local.client = None
        if client is not None:
            with self.lock:
                self.made = [c for c in self.made if c is not client]
            _close_quietly(client)

    def close(self) -> None:
        with self.lock:
            made, self.made = self.made, []
            self.local = threading.local()
        for client in made:
            _close_quietly(client)


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # closing a broken channel must not mask the real error
        pass


_POOLS: dict[_Endpoint, _ClientPool] = {}
_INFO: dict[tuple[str, str], ModelInfo] = {}
_CHECKED: set[tuple[str, str, Contract, str]] = set()
_LOCK = threading.Lock()
_INFO_LOCK = threading.Lock()  # held while reading: the reader needs _LOCK for its pool


@atexit.register
def _close_all() -> None:
    """Close every client before the interpreter tears grpc down under them."""
    with _LOCK:
        pools = list(_POOLS.values())
    for pool in pools:
        pool.close()


def _pool(endpoint: _Endpoint) -> _ClientPool:
    with _LOCK:
        pool = _POOLS.get(endpoint)
        if pool is None:
            pool = _POOLS[endpoint] = _ClientPool(endpoint)
        return pool


class TritonBackend:
    """Run one tagger's model on a Triton server: ``infer(inputs) -> (n, n_out)`` float32.

    ``url`` is ``host:port`` of the server's gRPC (default) or HTTP endpoint; ``model`` the
    name it serves the tagger under; ``contract`` the tagger's. ``retries`` transient
    failures are retried after ``backoff`` seconds, doubling each time; ``timeout`` bounds
    one request in seconds. ``batch_size`` caps the objects per request where the
    server's ``max_batch_size`` allows more (or sets none).
    """

    def __init__(
        self,
        url: str,
        model: str,
        contract: Contract,
        *,
        protocol: Protocol = "grpc",
        retries: int = 3,
        backoff: float | None = None,
        timeout: float = 60.0,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if protocol not in ("grpc", "http"):
            msg = f"unknown Triton protocol {protocol!r}; expected 'grpc' or 'http'"
            raise BadInputError(msg)
        if "://" in url or not url:
            msg = f"Triton url {url!r} must be host:port, without a scheme"
            raise BadInputError(msg)
        backoff = DEFAULT_BACKOFF_S if backoff is None else backoff
        if retries < 0 or backoff < 0 or timeout <= 0 or batch_size < 1:
            msg = (
                f"Triton backend needs retries >= 0 (got {retries}), backoff >= 0 (got "
                f"{backoff}), timeout > 0 (got {timeout}), batch_size >= 1 (got {batch_size})"
            )
            raise BadInputError(msg)
        self.url, self.model, self.contract = url, model, contract
        self.protocol: Protocol = protocol
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"TritonBackend({self.url!r}, {self.model!r}, protocol={self.protocol!r})"

    @property
    def where(self) -> str:
        return f"Triton server {self.url} ({self.protocol}), model {self.model!r}"

    # -- public -------------------------------------------------------------------------
    def infer(self, inputs: Mapping[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """The model's first output on ``inputs`` (one array per contract input name,
        leading axis = objects), as float32 ``(n, n_outputs)``."""
        wanted, output = contract_tensors(self.contract)
        arrays, n = _host_arrays(inputs, wanted, self.contract)
        info = self.model_info()
        if n == 0:
            served = {t.name: t for t in info.outputs}[output.name].shape[1]
            return np.zeros((0, served if served > 0 else output.shape[1]), np.float32)
        limit, exact = info.objects_per_request
        step = limit if exact and limit else min(limit or self.batch_size, self.batch_size)
        parts = []
        for start in range(0, n, step):
            part = {k: v[start : start + step] for k, v in arrays.items()}
            size = len(next(iter(part.values())))
            if exact and size < step:  # a fixed leading axis: pad, then drop the padding
                part = {k: _pad(v, step) for k, v in part.items()}
            out = self._call(
                "infer", functools.partial(self._send, arrays=part, output=output.name)
            )
            parts.append(out[:size])
        result = np.concatenate(parts).reshape(n, -1)
        if result.shape[1] not in output_widths(self.contract):
            msg = f"{self.where}: output {output.name} has {result.shape[1]} columns, the contract {output.shape[1]}"
            raise TritonError(msg)
        return result

    def model_info(self) -> ModelInfo:
        """The served model's metadata and config, read once per process and checked
        against the contract once per (url, model, contract)."""
        key = (self.url, self.model)
        info = _INFO.get(key)
        if info is None:
            with _INFO_LOCK:  # one reader per process; the other threads wait for its answer
                info = _INFO.get(key)
                if info is None:
                    info = _INFO[key] = self._read_info()
        checked = (self.url, self.model, self.contract, type(self).__name__)
        if checked not in _CHECKED:
            self._check(info)
            _CHECKED.add(checked)
        return info

    def close(self) -> None:
        """Close this process's clients for the endpoint; the next call makes new ones."""
        _pool(self._endpoint).close()

    # -- internals ----------------------------------------------------------------------
    def _check(self, info: ModelInfo) -> None:
        """TritonError unless the served model takes what this client sends."""
        try:
            check_model(info, self.contract, self.where)
        except TritonError as err:
            if not any(t.name == "seeds" for t in info.inputs):
                raise
            msg = f"{err} (the served model takes hits: use --triton-wire sparse)"
            raise TritonError(msg) from err

    @property
    def _endpoint(self) -> _Endpoint:
        return _Endpoint(self.protocol, self.url, self.timeout)

    def _read_info(self) -> ModelInfo:
        grpc = self.protocol == "grpc"
        kw: dict[str, Any] = {"as_json": True, "client_timeout": self.timeout} if grpc else {}
        meta = self._call("read metadata", lambda c: c.get_model_metadata(self.model, **kw))
        config = self._call("read config", lambda c: c.get_model_config(self.model, **kw))
        return ModelInfo.from_json(meta, config.get("config", config) if grpc else config)

    def _send(self, client: Any, arrays: Mapping[str, npt.NDArray[Any]], output: str) -> Any:
        module = _import(self.protocol)
        http = self.protocol == "http"
        bin_kw = {"binary_data": True} if http else {}
        tensors = []
        for name, x in arrays.items():
            t = module.InferInput(name, list(x.shape), _DATATYPES[x.dtype.name])
            t.set_data_from_numpy(x, **bin_kw)
            tensors.append(t)
        want = [module.InferRequestedOutput(output, **bin_kw)]
        extra = {} if http else {"client_timeout": self.timeout}
        res = client.infer(self.model, tensors, outputs=want, **extra)
        out = res.as_numpy(output)
        if out is None:
            msg = f"{self.where}: the reply holds no output {output!r}"
            raise TritonError(msg)
        return np.asarray(out, dtype=np.float32)

    def _call(self, what: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` with retries on transient errors; TritonError naming the cause."""
        pool = _pool(self._endpoint)
        for attempt in range(self.retries + 1):
            try:
                return fn(pool.get())
            except TritonError:
                raise
            except Exception as err:  # tritonclient raises its own and socket errors
                transient = is_transient(err, model_was_served=(self.url, self.model) in _INFO)
                if not transient:
                    msg = f"{self.where}: {what} refused: {type(err).__name__}: {err}"
                    raise TritonError(msg) from err
                if attempt == self.retries:
                    msg = f"{self.where}: {what} failed after {attempt + 1} attempts: {type(err).__name__}: {err}"
                    raise TritonUnavailableError(msg) from err
                pool.drop()
                time.sleep(self.backoff * 2**attempt * random.uniform(0.5, 1.0))
        raise AssertionError  # pragma: no cover - the loop returns or raises


def _host_arrays(
    inputs: Mapping[str, npt.NDArray[Any]], wanted: tuple[TensorSpec, ...], contract: Contract
) -> tuple[dict[str, npt.NDArray[np.float32]], int]:
    """Contiguous float32 arrays in the contract's input order, checked before any request."""
    names = [t.name for t in wanted]
    if set(inputs) != set(names):
        msg = f"model {contract.model_name!r} takes inputs {names}, got {sorted(inputs)}"
        raise ContractError(msg)
    out = {}
    for t in wanted:
        x = np.ascontiguousarray(inputs[t.name], dtype=np.float32)
        if x.ndim != len(t.shape) or any(
            w not in (-1, s) for s, w in zip(x.shape, t.shape, strict=True)
        ):
            msg = f"model {contract.model_name!r}: input {t.describe()} expected, got shape {list(x.shape)}"
            raise ContractError(msg)
        out[t.name] = x
    sizes = {len(x) for x in out.values()}
    if len(sizes) > 1:
        msg = f"model {contract.model_name!r}: inputs hold different object counts {sorted(sizes)}"
        raise ContractError(msg)
    return out, sizes.pop()


def _pad(x: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
    pad = np.zeros((n - len(x), *x.shape[1:]), np.float32)
    return np.concatenate([x, pad])
