"""Start and stop tools/triton_serve.py from the project's environment (tests, benchmarks).

Standard library only (tritonclient for :meth:`TritonServer.requests`), so both the pytest
fixtures and benchmarks/triton.py load this file by path and share one way to build the
Triton venv, pick free loopback ports, wait for the ready line and stop the server.
The server itself runs in ``$E2E_TRITON_VENV`` (default ``<repo>/.triton-venv``), built
with tools/make-triton-venv.sh when it is not there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REPO", "TritonLaunchError", "TritonServer", "start_server", "triton_python"]

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0  # a start takes ~5 s on 2 cores; PyTriton has hung past 120 s
START_ATTEMPTS = 2


class TritonLaunchError(RuntimeError):
    """The Triton venv could not be built or the server did not come up; says why."""


def triton_python() -> Path:
    """The Triton venv's interpreter, building the venv first when it is not there."""
    venv = Path(os.environ.get("E2E_TRITON_VENV", REPO / ".triton-venv"))
    script = REPO / "tools" / "make-triton-venv.sh"
    if not (venv / ".e2e-triton-venv").is_file():
        proc = subprocess.run(
            ["bash", str(script), str(venv)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            msg = f"cannot build the Triton venv {venv} with {script}:\n{tail}"
            raise TritonLaunchError(msg)
    return venv / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TritonServer:
    """A running tools/triton_serve.py: ``grpc``/``http`` are ``host:port``."""

    proc: subprocess.Popen[str]
    grpc: str
    http: str
    log: Path
    lines: list[str] = field(default_factory=list)

    def url(self, protocol: str) -> str:
        return self.grpc if protocol == "grpc" else self.http

    def terminate(self) -> None:
        """SIGTERM to triton_serve.py, which then stops tritonserver and its stubs (~5 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def stop(self) -> None:
        """Terminate and wait; whatever of its process group is left after that is killed."""
        self.terminate()
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def requests(self, model: str, *, settle: int | None = None) -> int:
        """Successful inference requests the server counted for ``model``. Triton updates
        its statistics after it has answered, so a count read right after the last
        response can lag by one: with ``settle=N`` the count is read again (for up to
        5 s) until it reaches N, then returned as it is, so a test still sees any excess."""
        import tritonclient.grpc as grpcclient

        client = grpcclient.InferenceServerClient(self.grpc)
        try:
            for _ in range(100):
                stats = client.get_inference_statistics(model, as_json=True)
                success = stats["model_stats"][0]["inference_stats"]["success"]
                count = int(success.get("count", 0))
                if settle is None or count >= settle:
                    break
                time.sleep(0.05)
        finally:
            client.close()
        return count


def start_server(
    models: Sequence[str],
    log: Path,
    *,
    max_batch_size: int = 64,
    threads: int = 1,
    ports: tuple[int, int] | None = None,
) -> TritonServer:
    """Start tools/triton_serve.py with ``models`` (its arguments) on free ports (or on
    ``ports``: http, grpc) and wait for its ready line; TritonLaunchError with the log's
    tail if it does not come.

    A start that has not printed its ready line within START_TIMEOUT_S is stopped and
    tried once more (on fresh ports unless ``ports`` were given): on a loaded 2-core CI
    machine PyTriton's ``Triton.run()`` once waited past 120 s with its model already
    loaded, while a start normally takes about 5 s."""
    python = triton_python()
    errors: list[str] = []
    for attempt in range(START_ATTEMPTS):
        try:
            return _start_once(python, models, log, max_batch_size, threads, ports)
        except TritonLaunchError as err:
            errors.append(f"attempt {attempt + 1}: {err}")
    raise TritonLaunchError("\n".join(errors))


def _start_once(
    python: Path,
    models: Sequence[str],
    log: Path,
    max_batch_size: int,
    threads: int,
    ports: tuple[int, int] | None,
) -> TritonServer:
    http, grpc = ports or (free_port(), free_port())
    cmd = [
        str(python),
        str(REPO / "tools" / "triton_serve.py"),
        *("--http-port", str(http), "--grpc-port", str(grpc)),
        *("--max-batch-size", str(max_batch_size), "--threads", str(threads)),
        *models,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with log.open("w") as out:  # the child keeps its own handle
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: stop() reaches tritonserver too
        )
    server = TritonServer(proc, f"127.0.0.1:{grpc}", f"127.0.0.1:{http}", log)
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            server.lines.append(line.rstrip())
            if line.startswith("TRITON READY"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.2):
        exited = proc.poll() is not None  # before stop(), which ends the process either way
        if exited or time.monotonic() > deadline:
            server.stop()
            why = "exited" if exited else f"not ready in {START_TIMEOUT_S:.0f} s"
            tail = "\n".join(log.read_text().splitlines()[-20:] + server.lines[-5:])
            msg = f"Triton server did not start, {why} ({' '.join(cmd)}):\n{tail}"
            raise TritonLaunchError(msg)
    return server
