"""Chunk checkpoints that carry the identity of the work and run no code when read.

coffea's ``SimpleCheckpointer`` keys a chunk's output by file and entry range only and
stores it with cloudpickle: a rerun with another tagger took the first tagger's chunks
and called the run complete, and a file planted in the directory ran code. Here:

- each checkpoint is keyed by the *work*: the taggers' content hashes and options, the
  processor's settings (cuts, precision, branch profile, mean images), the package version,
  and the chunk (dataset, file UUID (the path only for a file without one), tree,
  layout, entry range): a chunk saved under one name of a file is found under another;
- ``IDENTITY.json`` records that work; a directory written for other work is refused
  with one line (or wiped and redone with ``recompute=True``);
- chunk outputs are written with :mod:`e2e_coffea.processor.serialize` (JSON, UHI
  histograms, ``.npy``; never pickle), each file first, then its manifest entry
  ``manifest/<key>.json`` with the file's sha256; a chunk is loaded only through an
  entry whose identity and hash match, so a planted, truncated or edited file is never
  used (an edited one stops the run with an error naming it);
- the directory and everything in it are the user's alone (0o700 / 0o600).

Every write is a rename of a complete temporary file, so a run killed at any moment
leaves only whole checkpoints (or orphans no entry points to, which are never read).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
import uuid
import warnings
from pathlib import Path
from typing import Any, Final

from coffea.processor import CheckpointerABC
from coffea.processor.executor import WorkItem

from ..exceptions import (
    CheckpointDirError,
    CheckpointIntegrityError,
    E2EError,
    MalformedInputError,
)
from ..inference.shipped import file_sha256
from ..io.atomic import TEMP_SUFFIX, atomic_write_bytes
from ..io.jsonfiles import loads_json, read_regular
from ..processor.serialize import MAX_OUTPUT_BYTES, dumps_output, loads_output
from ..processor.weights import weight_inputs
from ..version import __version__
from .accounting import renamed_chunks

__all__ = [
    "VerifiedCheckpointer",
    "chunk_key",
    "work_identity",
]

FORMAT: Final = "e2e-coffea-checkpoints"
VERSION: Final = 1
IDENTITY_FILE: Final = "IDENTITY.json"
MANIFEST_DIR: Final = "manifest"
CHUNK_DIR: Final = "chunks"
_KEY: Final = re.compile(r"^[0-9a-f]{64}$")
_DATA: Final = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{16}\.zip$")
_RECOMPUTE_HINT: Final = "--recompute-checkpoints (recompute_checkpoints=True)"
log = logging.getLogger(__name__)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def _profile(profile: Any) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "name": profile.name,
        "layout": profile.layout,
        "tree": profile.tree,
        "branches": dict(sorted(profile.branches.items())),
    }


def work_identity(processor: Any) -> dict[str, Any]:
    """What a chunk's output depends on, apart from the chunk itself (JSON-ready).

    Left out on purpose: the device, batch size and frame memory (they change how, not
    what, is computed) and the model's path (its content hash is in)."""
    taggers = []
    for t in processor.taggers:
        spec = t.spec
        taggers.append(
            {
                "name": t.name,
                "sha256": spec.sha256 or file_sha256(spec.path),
                "precision": t.precision,
                "backend": "triton" if t.triton else "onnxruntime",
                "cuts": dataclasses.asdict(t.cuts),
                "layout": t.layout,
                "profile": _profile(t.profile),
            }
        )
    return {
        "package": "e2e-coffea",
        "version": __version__,
        "processor": f"{type(processor).__module__}.{type(processor).__qualname__}",
        "taggers": taggers,
        "cuts": dataclasses.asdict(processor.cuts),
        "precision": processor.precision,
        "mean_images": bool(processor.mean_images),
        "profile": _profile(processor.profile),
        "lumi_fb": processor.lumi_fb,
    }


def chunk_fields(metadata: Any) -> dict[str, Any]:
    """What names a chunk: its dataset, file (path and ROOT UUID), tree and entry range."""
    return {
        "dataset": metadata["dataset"],
        "file": metadata["filename"],
        "fileuuid": metadata.get("fileuuid", ""),
        "tree": metadata["treename"],
        "entrystart": int(metadata["entrystart"]),
        "entrystop": int(metadata["entrystop"]),
    }


def chunk_key(identity_sha256: str, metadata: Any, processor: Any) -> str:
    """The checkpoint key of one chunk of one piece of work (64 hex digits). The dataset's
    weight metadata is in it: a corrected cross-section recomputes the chunks it weights.
    The file is named by its ROOT UUID when it has one, not by its path: a chunk saved
    for ``a.root`` is found for a hard link, a copy or a URL of the same file."""
    fields = chunk_fields(metadata)
    if fields["fileuuid"]:
        del fields["file"]  # the file is its UUID: found again under any of its names
    return _sha256(
        _canonical(
            {
                "work": identity_sha256,
                **fields,
                "layout": processor.layout_for(metadata),
                "profile": _profile(processor.profile_for(metadata)),
                "weights": weight_inputs(metadata, processor.lumi_fb),
            }
        )
    )


def _describe_difference(mine: dict[str, Any], theirs: Any) -> str:
    """The first setting that differs, as ``what: theirs vs mine``."""
    if not isinstance(theirs, dict):
        return "unreadable identity"

    def tagger_list(ident: Any) -> str:
        return ", ".join(f"{t.get('name')} ({str(t.get('sha256'))[:12]})" for t in ident or [])

    for key in (
        "taggers",
        "version",
        "processor",
        "cuts",
        "profile",
        "precision",
        "mean_images",
        "lumi_fb",
    ):
        if mine.get(key) != theirs.get(key):
            if key == "taggers":
                a, b = tagger_list(theirs.get(key)), tagger_list(mine.get(key))
                if a != b:
                    return f"taggers {a} there, {b} now"
                return "tagger options (precision, backend, cuts, layout or profile) differ"
            return f"{key} {theirs.get(key)!r} there, {mine.get(key)!r} now"
    return "settings differ"


class VerifiedCheckpointer(CheckpointerABC):  # type: ignore[misc]
    """A coffea checkpointer (``Runner(checkpointer=...)``) for one piece of work.

    Made on the client: it checks (or initialises) the directory there, before any chunk
    runs, then travels to the workers, which load and save chunks through it. The
    directory must be reachable at the same path from every worker.
    """

    def __init__(
        self, directory: str | os.PathLike[str], processor: Any, *, recompute: bool = False
    ) -> None:
        self.directory = str(Path(directory).absolute())
        self.identity = work_identity(processor)
        self.identity_sha256 = _sha256(_canonical(self.identity))
        _prepare(Path(self.directory), self.identity, self.identity_sha256, recompute)

    # -- paths ------------------------------------------------------------------------
    def _entry_path(self, key: str) -> Path:
        return Path(self.directory, MANIFEST_DIR, f"{key}.json")

    # -- coffea's interface -----------------------------------------------------------
    def load(self, metadata: Any, processor_instance: Any) -> Any:
        """The chunk's saved output, or None (never saved, or its data file is gone)."""
        key = chunk_key(self.identity_sha256, metadata, processor_instance)
        entry_path = self._entry_path(key)
        try:
            entry = loads_json(
                _read_ours(entry_path), source=f"checkpoint manifest entry {entry_path}"
            )
        except FileNotFoundError:
            return None
        except CheckpointIntegrityError:
            raise
        except (OSError, ValueError) as err:
            msg = f"checkpoint manifest entry {entry_path} is unreadable ({err}); delete it or use {_RECOMPUTE_HINT}"
            raise CheckpointIntegrityError(msg) from err
        data_name = entry.get("data") if isinstance(entry, dict) else None
        if (
            not isinstance(data_name, str)
            or not _DATA.match(data_name)
            or entry.get("work") != self.identity_sha256
            or entry.get("key") != key
        ):
            msg = f"checkpoint manifest entry {entry_path} does not describe this chunk of this work; delete it or use {_RECOMPUTE_HINT}"
            raise CheckpointIntegrityError(msg)
        data_path = Path(self.directory, CHUNK_DIR, data_name)
        try:
            data = _read_ours(data_path)
        except FileNotFoundError:
            return None  # deleted by hand: the chunk is simply redone
        except OSError as err:
            msg = f"checkpoint {data_path} is unreadable ({err.strerror or err}); delete it or use {_RECOMPUTE_HINT}"
            raise CheckpointIntegrityError(msg) from err
        if _sha256(data) != entry.get("sha256"):
            msg = (
                f"checkpoint {data_path} does not match the sha256 its manifest entry recorded "
                f"(changed after it was written); delete it or use {_RECOMPUTE_HINT}"
            )
            raise CheckpointIntegrityError(msg)
        payload = loads_output(data, source=str(data_path))
        return _unwrap(payload, metadata, data_path)

    def save(self, output: Any, metadata: Any, processor_instance: Any) -> None:
        """Write the chunk's output, then the manifest entry that vouches for it.

        A chunk the processor gave up on (``skip_bad_files``: its output lists it under
        ``failed``) is not saved, so the next run tries it again. A checkpoint that cannot
        be written costs a recomputation on the next run, not a result: the failure is
        warned about and the run goes on."""
        out = output.get("out") if isinstance(output, dict) else None
        if isinstance(out, dict) and out.get("failed"):
            return
        try:
            key = chunk_key(self.identity_sha256, metadata, processor_instance)
            data = dumps_output(_wrap(output))
            digest = _sha256(data)
            data_name = f"{key}-{digest[:16]}.zip"
            _write_atomic(Path(self.directory, CHUNK_DIR, data_name), data)
            entry = {
                "key": key,
                "work": self.identity_sha256,
                "data": data_name,
                "sha256": digest,
                **chunk_fields(metadata),
            }
            _write_atomic(self._entry_path(key), _canonical(entry))
        except (OSError, E2EError) as err:
            text = f"checkpoint of {metadata.get('filename')}[{metadata.get('entrystart')}:{metadata.get('entrystop')}] not written: {err}"
            log.warning(text)
            warnings.warn(text, RuntimeWarning, stacklevel=2)

    def entries(self) -> list[dict[str, Any]]:
        """The manifest: one dict per saved chunk (key, data file, sha256, file, range)."""
        out = []
        for p in sorted(Path(self.directory, MANIFEST_DIR).glob("*.json")):
            if _KEY.match(p.stem):
                out.append(loads_json(_read_ours(p), source=f"checkpoint manifest entry {p}"))
        return out


# -- what a chunk checkpoint holds --------------------------------------------------------
def _wrap(output: Any) -> dict[str, Any]:
    """coffea's per-chunk result (output, metrics, processed work items) as plain data."""
    items = [
        {
            "dataset": it.dataset,
            "filename": it.filename,
            "treename": it.treename,
            "entrystart": int(it.entrystart),
            "entrystop": int(it.entrystop),
            "fileuuid": bytes(it.fileuuid).hex(),
            "usermeta": it.usermeta,
            "preload": None if it.preload is None else sorted(it.preload),
        }
        for it in output.get("processed", ())
    ]
    wrapped: dict[str, Any] = {"out": output["out"], "processed": items}
    if "metrics" in output:
        metrics = dict(output["metrics"])
        if isinstance(metrics.get("columns"), (set, frozenset)):
            metrics["columns"] = sorted(metrics["columns"])
        wrapped["metrics"] = metrics
    return wrapped


def _unwrap(payload: dict[str, Any], metadata: Any, where: Path) -> dict[str, Any]:
    items = set()
    renamed: dict[str, str] = {}
    for it in payload.get("processed", []):
        item = WorkItem(
            it["dataset"],
            it["filename"],
            it["treename"],
            it["entrystart"],
            it["entrystop"],
            bytes.fromhex(it["fileuuid"]),
            it["usermeta"],
            None if it["preload"] is None else frozenset(it["preload"]),
        )
        uid = str(uuid.UUID(bytes=item.fileuuid)) if item.fileuuid else ""
        # a file with a UUID is that UUID under whatever name: the saved name may differ
        name = metadata.get("filename", "") if uid else item.filename
        seen = (item.dataset, name, item.treename, item.entrystart, item.entrystop, uid)
        want = tuple(
            metadata.get(k, "")
            for k in ("dataset", "filename", "treename", "entrystart", "entrystop", "fileuuid")
        )
        if seen != want:
            msg = f"checkpoint {where} holds the chunk {seen}, not {want}; delete it or use {_RECOMPUTE_HINT}"
            raise CheckpointIntegrityError(msg)
        renamed[item.filename] = metadata.get("filename", "")
        items.add(dataclasses.replace(item, filename=name))
    out: dict[str, Any] = {"out": renamed_chunks(payload["out"], renamed), "processed": items}
    if "metrics" in payload:
        metrics = dict(payload["metrics"])
        if isinstance(metrics.get("columns"), list):
            metrics["columns"] = set(metrics["columns"])
        out["metrics"] = metrics
    return out


# -- the directory ------------------------------------------------------------------------
def _read_ours(path: Path) -> bytes:
    """The bytes of a file this module wrote: a regular file, not a link, FIFO or device.

    A FIFO put in a checkpoint's place hung the run on ``read_bytes``; a symbolic link
    could point the run at any file. Both are refused with one line naming the file.
    ``FileNotFoundError`` passes through (a chunk deleted by hand is simply redone)."""
    try:
        return read_regular(
            path, what="checkpoint file", max_bytes=MAX_OUTPUT_BYTES, follow_symlinks=False
        )
    except MalformedInputError as err:
        msg = f"{err}; delete it or use {_RECOMPUTE_HINT}"
        raise CheckpointIntegrityError(msg) from err


def _write_atomic(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data, private=True, durable=True)


def _check_private(d: Path) -> None:
    """Ours alone: owned by this user and writable by nobody else (read access is tightened)."""
    st = d.stat()
    if not stat.S_ISDIR(st.st_mode):
        msg = f"checkpoint dir {d} is not a directory"
        raise CheckpointDirError(msg)
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        msg = f"checkpoint dir {d} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}); use a directory of your own"
        raise CheckpointDirError(msg)
    if st.st_mode & 0o022:
        msg = (
            f"checkpoint dir {d} is writable by others (mode {stat.S_IMODE(st.st_mode):o}), who could "
            f"plant checkpoints; check its contents, then chmod 700 it, or use a new directory"
        )
        raise CheckpointDirError(msg)
    if st.st_mode & 0o077:
        d.chmod(0o700)


def _ours(d: Path) -> list[Path]:
    """Files this module wrote (and only those): removed by ``recompute``."""
    found = [p for p in (d / MANIFEST_DIR).glob("*.json") if _KEY.match(p.stem)]
    found += [p for p in (d / CHUNK_DIR).glob("*.zip") if _DATA.match(p.name)]
    found += [
        *(d / MANIFEST_DIR).glob(f".*{TEMP_SUFFIX}"),
        *(d / CHUNK_DIR).glob(f".*{TEMP_SUFFIX}"),
    ]
    return found


def _prepare(d: Path, identity: dict[str, Any], identity_sha256: str, recompute: bool) -> None:
    """Create or check the directory for this work; raise before any chunk runs."""
    if d.exists() and not d.is_dir():
        msg = f"checkpoint dir {d} is a file; expected a directory"
        raise CheckpointDirError(msg)
    d.parent.mkdir(parents=True, exist_ok=True)
    d.mkdir(mode=0o700, exist_ok=True)
    _check_private(d)
    header = d / IDENTITY_FILE
    if header.is_file():
        try:
            doc = loads_json(_read_ours(header), source=f"checkpoint identity {header}")
        except CheckpointIntegrityError:
            raise
        except (OSError, ValueError):
            doc = None
        same = isinstance(doc, dict) and doc.get("identity_sha256") == identity_sha256
        if not same and not recompute:
            why = _describe_difference(
                identity, doc.get("identity") if isinstance(doc, dict) else None
            )
            msg = f"checkpoint dir {d} was written for other work ({why}); use another directory, or {_RECOMPUTE_HINT} to discard its checkpoints"
            raise CheckpointDirError(msg)
    elif any(p.name not in (MANIFEST_DIR, CHUNK_DIR) for p in d.iterdir()) and not recompute:
        msg = (
            f"checkpoint dir {d} holds files but no {IDENTITY_FILE} (not an e2e-coffea checkpoint "
            f"directory, or one from an older version); use an empty directory, or "
            f"{_RECOMPUTE_HINT} to start one here (its other files are never read)"
        )
        raise CheckpointDirError(msg)
    for sub in (MANIFEST_DIR, CHUNK_DIR):
        (d / sub).mkdir(mode=0o700, exist_ok=True)
        _check_private(d / sub)
    if recompute:
        for p in _ours(d):
            p.unlink(missing_ok=True)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "identity_sha256": identity_sha256,
        "identity": identity,
    }
    if recompute or not header.is_file():
        _write_atomic(header, json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n")
