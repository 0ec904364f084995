"""What travels to the workers: the software (pip or an uploaded checkout), the models,
and the GPU tag where the facility cannot put one on the worker command line.

Models are uploaded by content: each ONNX file goes, inside a worker plugin, to
``<worker_dir>/<sha256[:16]>/<file name>`` on every worker (also on workers that join
later), and the taggers' paths are rewritten to that location. The path is the same on
every worker, so the processor and the session cache need no change; the hash in it
means two versions of a model never overwrite each other.

Nothing on a worker's disk is trusted: a file already at the destination is kept only if
its full sha256 is the upload's (else it is rewritten), ``worker_dir`` (by default
``~/.cache/e2e-coffea/models``, expanded on the worker) is created 0700 and refused when
another user owns it or others may write to it, and the session is built only from bytes
whose sha256 is the tagger's (:func:`e2e_coffea.inference.sessions.get_session`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from ..exceptions import ModelUploadError
from ..inference.shipped import TaggerSpec, file_sha256, resolve_tagger
from ..io.atomic import atomic_write_bytes
from .config import DEFAULT_WORKER_DIR, EnvironmentConfig

__all__ = [
    "GPUResourcePlugin",
    "ModelUploadPlugin",
    "private_dir",
    "register_environment",
    "ship_models",
]


class ModelUploadPlugin(WorkerPlugin):
    """Write model files to fixed worker-local paths when a worker starts."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)

    def setup(self, worker: Any) -> None:
        for dest, data in self.files.items():
            _write_once(Path(dest).expanduser(), data)


def private_dir(path: Path) -> Path:
    """``path`` created 0700 if missing; refused where another user owns it or group or
    others may write to it (they could swap a model between the upload and its use)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        msg = (
            f"model folder {path} on this worker is not private (owner uid {st.st_uid}, "
            f"mode {stat.S_IMODE(st.st_mode):o}; need a folder of uid {os.getuid()} that only "
            f"it may write); set models.worker_dir to a folder of your own"
        )
        raise ModelUploadError(msg)
    return path


def _write_once(dest: Path, data: bytes) -> None:
    """Atomic: workers sharing a node (or a shared folder) may write the same file at once.

    A file already there is kept only when its sha256 is that of ``data``: a same-size
    file with other bytes (planted, or a torn earlier write) is replaced."""
    private_dir(dest.parent.parent)
    private_dir(dest.parent)
    digest = hashlib.sha256(data).hexdigest()
    if dest.is_file() and not dest.is_symlink() and file_sha256(dest) == digest:
        return
    atomic_write_bytes(dest, data, private=True)


def ship_models(
    client: Any, taggers: Sequence[str | TaggerSpec], worker_dir: str = DEFAULT_WORKER_DIR
) -> list[TaggerSpec]:
    """Upload the taggers' ONNX files to every worker; return the taggers pointing there,
    each carrying the full sha256 of the bytes sent (the workers load nothing else).

    Call before :func:`e2e_coffea.runner.run` (the session cache then finds the files).
    """
    out = []
    for t in taggers:
        spec = t if isinstance(t, TaggerSpec) else resolve_tagger(t)
        data = Path(spec.path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        dest = posixpath.join(worker_dir, digest[:16], Path(spec.path).name)
        plugin = ModelUploadPlugin({dest: data})
        client.register_plugin(plugin, name=f"e2e-coffea-model-{digest[:16]}")
        out.append(dataclasses.replace(spec, path=dest, sha256=digest))
    return out


class GPUResourcePlugin(WorkerPlugin):
    """Tag a worker ``GPU=n`` after it started: for facilities (dask-gateway) whose worker
    command line we do not write, so ``--resources GPU=1`` cannot be passed there."""

    name = "e2e-coffea-gpu-resource"

    def __init__(self, gpus: int = 1) -> None:
        self.gpus = gpus

    async def setup(self, worker: Any) -> None:
        await worker.set_resources(GPU=self.gpus)


def register_environment(client: Any, env: EnvironmentConfig) -> None:
    """pip-install packages and/or upload this e2e_coffea checkout to every worker.

    Both run again on workers that join later. An image (``environment.image``) is the
    better choice at scale: nothing is installed per worker start.
    """
    if env.pip:
        from distributed.diagnostics.plugin import PipInstall

        client.register_plugin(PipInstall(list(env.pip)), name="e2e-coffea-pip")
    if env.upload_package:
        from distributed.diagnostics.plugin import UploadDirectory

        pkg = Path(__file__).parent.parent  # this package's folder (no import of the root)
        with tempfile.TemporaryDirectory() as tmp:
            # UploadDirectory puts the uploaded folder itself on sys.path, so it must be
            # the folder *holding* the package
            stage = Path(tmp) / "e2e_coffea_upload"
            shutil.copytree(
                pkg, stage / "e2e_coffea", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
            plugin = UploadDirectory(str(stage), update_path=True, restart_workers=True)
        client.register_plugin(plugin, name="e2e-coffea-package")
