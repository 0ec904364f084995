"""TritonBackend against a real Triton server (tests/inference/conftest.py): the scores of
local onnxruntime, requests cut where the server says, clear errors, retries.

The server runs the very ONNX files the reference sessions here run, in another process
and another onnxruntime build; the comparison tolerance allows for that alone.
"""

from __future__ import annotations

import math
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from e2e_coffea.exceptions import ContractError, TritonError, TritonUnavailableError
from e2e_coffea.inference import TaggerSpec, resolve_tagger
from e2e_coffea.inference import triton as triton_module
from e2e_coffea.inference.triton import TritonBackend, is_transient


def frames(spec: TaggerSpec, n: int, seed: int = 0) -> np.ndarray:
    """Non-negative frames of the tagger's shape, most pixels empty, as real ones are."""
    c = spec.contract
    rng = np.random.default_rng(seed)
    x = rng.exponential(1.0, (n, c.n_channels, *c.frame_size)).astype(np.float32)
    return x * (rng.random(x.shape) < 0.1)


def local_logits(spec: TaggerSpec, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(spec.path, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"frames": x})[0])


@pytest.fixture(scope="module")
def jet(jet_tagger: Path) -> TaggerSpec:
    return resolve_tagger(jet_tagger)


@pytest.fixture(scope="module")
def eg(eg_tagger: Path) -> TaggerSpec:
    return resolve_tagger(eg_tagger)


class _Backoffs:
    """Stands in for the ``time`` module of ``inference.triton``: records each backoff
    delay instead of sleeping, so a test counts retries rather than timing them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> _Backoffs:
    rec = _Backoffs()
    monkeypatch.setattr(triton_module, "time", rec)
    return rec


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_scores_equal_local_onnxruntime_in_requests_of_max_batch_size(
    triton: Any, jet: TaggerSpec, protocol: str
) -> None:
    backend = TritonBackend(triton.url(protocol), jet.name, jet.contract, protocol=protocol)  # type: ignore[arg-type]
    mbs = backend.model_info().max_batch_size
    x = frames(jet, 2 * mbs + 3)
    before = triton.requests(jet.name)
    got = backend.infer({"frames": x})
    assert got.dtype == np.float32
    assert got.shape == (len(x), 1)
    np.testing.assert_allclose(got, local_logits(jet, x), rtol=1e-5, atol=1e-4)
    assert np.ptp(got) > 1000 * 1e-4  # scores differ frame to frame: a real comparison
    assert triton.requests(jet.name, settle=before + 3) - before == 3  # mbs + mbs + 3 objects


def test_client_batch_size_below_the_server_limit(triton: Any, jet: TaggerSpec) -> None:
    backend = TritonBackend(triton.grpc, jet.name, jet.contract, batch_size=3)
    x = frames(jet, 10, seed=1)
    before = triton.requests(jet.name)
    np.testing.assert_allclose(
        backend.infer({"frames": x}), local_logits(jet, x), rtol=1e-5, atol=1e-4
    )
    assert triton.requests(jet.name, settle=before + 4) - before == 4  # 3 + 3 + 3 + 1


def test_model_without_triton_batching_takes_whole_batches(triton: Any, eg: TaggerSpec) -> None:
    """max_batch_size 0 with a free leading axis: the client's batch size decides."""
    backend = TritonBackend(triton.grpc, eg.name, eg.contract, batch_size=16)
    info = backend.model_info()
    assert info.max_batch_size == 0
    assert info.objects_per_request == (None, False)
    x = frames(eg, 40, seed=2)
    before = triton.requests(eg.name)
    np.testing.assert_allclose(
        backend.infer({"frames": x}), local_logits(eg, x), rtol=1e-5, atol=1e-4
    )
    want = math.ceil(40 / 16)
    assert triton.requests(eg.name, settle=before + want) - before == want


def test_fixed_leading_axis_is_filled_and_the_padding_dropped(triton: Any, jet: TaggerSpec) -> None:
    """max_batch_size 0 and a model that takes exactly 4 objects: 10 -> 4 + 4 + (2 + 2 pad)."""
    backend = TritonBackend(triton.grpc, "jet_fixed4", jet.contract)
    assert backend.model_info().objects_per_request == (4, True)
    x = frames(jet, 10, seed=3)
    before = triton.requests("jet_fixed4")
    got = backend.infer({"frames": x})
    np.testing.assert_allclose(got, local_logits(jet, x), rtol=1e-5, atol=1e-4)
    assert triton.requests("jet_fixed4", settle=before + 3) - before == 3


def test_zero_objects(triton: Any, jet: TaggerSpec) -> None:
    backend = TritonBackend(triton.grpc, jet.name, jet.contract)
    out = backend.infer({"frames": np.zeros((0, 3, 125, 125), np.float32)})
    assert out.shape == (0, 1)
    assert out.dtype == np.float32


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_pickled_backend_gives_each_thread_its_own_client(
    triton: Any, jet: TaggerSpec, protocol: str
) -> None:
    backend = TritonBackend(triton.url(protocol), jet.name, jet.contract, protocol=protocol)  # type: ignore[arg-type]
    x = frames(jet, 12, seed=4)
    backend.infer({"frames": x[:1]})  # this thread's client, and the model read
    copy = pickle.loads(pickle.dumps(backend))  # settings only: no client, no lock
    threads: set[int] = set()

    def part(i: int) -> np.ndarray:
        threads.add(threading.get_ident())
        return copy.infer({"frames": x[i::4]})

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(part, range(4)))
    got = np.empty((12, 1), np.float32)
    for i, p in enumerate(parts):
        got[i::4] = p
    np.testing.assert_allclose(got, local_logits(jet, x), rtol=1e-5, atol=1e-4)
    made = triton_module._pool(copy._endpoint).made
    assert len(made) == len(threads) + 1  # one per worker thread, plus this thread's
    assert len({id(c) for c in made}) == len(made)
    copy.close()
    assert triton_module._pool(copy._endpoint).made == []
    np.testing.assert_allclose(copy.infer({"frames": x[:2]}), got[:2], rtol=1e-6)  # reopens


def test_served_model_with_another_input_name_names_both_sides(
    triton: Any, jet: TaggerSpec, backoffs: _Backoffs
) -> None:
    backend = TritonBackend(triton.grpc, "jet_renamed", jet.contract, backoff=5.0)
    with pytest.raises(TritonError, match=r"jet_renamed.*framez.*on the server.*frames") as err:
        backend.infer({"frames": frames(jet, 2)})
    assert triton.grpc in str(err.value)
    assert not isinstance(err.value, TritonUnavailableError)
    assert backoffs.delays == []  # not retried


def test_wrong_input_name_from_the_caller_fails_before_any_request(
    triton: Any, jet: TaggerSpec
) -> None:
    backend = TritonBackend(triton.grpc, jet.name, jet.contract)
    with pytest.raises(ContractError, match=r"takes inputs \['frames'\], got \['points'\]"):
        backend.infer({"points": frames(jet, 2)})
    with pytest.raises(ContractError, match=r"frames FP32\[-1, 3, 125, 125\] expected"):
        backend.infer({"frames": np.zeros((2, 3, 32, 32), np.float32)})


def test_unknown_model_is_refused_at_once(
    triton: Any, jet: TaggerSpec, backoffs: _Backoffs
) -> None:
    backend = TritonBackend(triton.grpc, "nope", jet.contract, backoff=5.0)
    with pytest.raises(TritonError, match=r"model 'nope': read metadata refused.*unknown model"):
        backend.infer({"frames": frames(jet, 1)})
    assert backoffs.delays == []  # not retried


def test_server_errors_are_sorted_into_transient_or_not(triton: Any, jet: TaggerSpec) -> None:
    """Real exceptions from tritonclient: a refused request is final, no server is not."""
    x = frames(jet, 9)  # over max_batch_size 8: the server refuses it
    caught = []
    for module, url in ((grpcclient, triton.grpc), (httpclient, triton.http)):
        client = module.InferenceServerClient(url)
        t = module.InferInput("frames", list(x.shape), "FP32")
        t.set_data_from_numpy(x)
        with pytest.raises(Exception, match="batch-size must be <= 8") as err:
            client.infer(jet.name, [t])
        caught.append((err.value, False))
        client.close()
    dead = f"127.0.0.1:{_closed_port()}"
    for module in (grpcclient, httpclient):
        client = module.InferenceServerClient(dead)
        with pytest.raises(Exception) as err:  # noqa: PT011 - any tritonclient/socket error
            client.get_model_metadata(jet.name)
        caught.append((err.value, True))
    assert [is_transient(e) for e, _ in caught] == [want for _, want in caught]
    # an unknown model: a wrong name, unless this process has seen it served (a reload)
    for module, url in ((grpcclient, triton.grpc), (httpclient, triton.http)):
        client = module.InferenceServerClient(url)
        with pytest.raises(Exception, match="unknown model") as err:
            client.get_model_metadata("nope")
        client.close()
        assert not is_transient(err.value)
        assert is_transient(err.value, model_was_served=True)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_unreachable_server_is_retried_with_backoff_then_named(
    jet: TaggerSpec, protocol: str, backoffs: _Backoffs
) -> None:
    url = f"127.0.0.1:{_closed_port()}"
    backend = TritonBackend(url, jet.name, jet.contract, protocol=protocol, retries=2, backoff=0.2)  # type: ignore[arg-type]
    with pytest.raises(TritonUnavailableError, match=r"failed after 3 attempts") as err:
        backend.infer({"frames": frames(jet, 1)})
    first, second = backoffs.delays  # two backoffs, each doubling, jitter in [0.5, 1]
    assert 0.5 * 0.2 <= first <= 0.2
    assert 0.5 * 0.4 <= second <= 0.4
    assert url in str(err.value)
    assert f"model {jet.name!r}" in str(err.value)
    assert isinstance(err.value, ConnectionError)  # an outage, not a refusal


@pytest.fixture
def silent_server() -> Any:
    """A TCP server that accepts connections and never answers: a request to it is slower
    than any timeout, deterministically (a 0.1 ms timeout against the real server raced
    the HTTP client's socket timer and passed now and then)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_request_slower_than_the_timeout_is_retried_then_named(
    triton: Any, jet: TaggerSpec, protocol: str, silent_server: str
) -> None:
    # gRPC deadlines are exact, so the real server at 0.1 ms is slower than the timeout;
    # the HTTP client's socket timer is coarse, so it gets a server that never answers.
    url, timeout = (triton.url(protocol), 1e-4) if protocol == "grpc" else (silent_server, 0.2)
    slow = TritonBackend(
        url, jet.name, jet.contract, protocol=protocol, timeout=timeout, retries=1, backoff=0.01
    )  # type: ignore[arg-type]
    with pytest.raises(
        TritonUnavailableError, match=r"failed after 2 attempts.*(?i:deadline|timed out|timeout)"
    ):
        slow.infer({"frames": frames(jet, 16)})
    slow.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_back_within_the_retries_is_reached_again(
    serve: Any, jet: TaggerSpec, jet_tagger: Path, tmp_path: Path
) -> None:
    """The server restarts on the same ports while a request is being retried: the retry
    on a fresh channel reaches it, the caller sees no error."""
    first = serve([str(jet_tagger)], tmp_path / "first.log")
    ports = tuple(int(u.rsplit(":", 1)[1]) for u in (first.http, first.grpc))
    backend = TritonBackend(first.grpc, jet.name, jet.contract, retries=8, backoff=0.25)
    x = frames(jet, 5, seed=6)
    want = backend.infer({"frames": x})
    first.stop()
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["out"] = backend.infer({"frames": x})
        except Exception as err:  # reported below
            result["err"] = err

    caller = threading.Thread(target=call)
    caller.start()  # refused, backing off ...
    second = serve([str(jet_tagger)], tmp_path / "second.log", ports=ports)
    caller.join(timeout=120)
    assert "err" not in result, result.get("err")
    np.testing.assert_allclose(result["out"], want, rtol=1e-6)
    assert second.requests(jet.name) == 1
