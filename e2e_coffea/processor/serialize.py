"""Save and load a run's output in a format that runs no code when read.

A run's output (and each chunk's, in a checkpoint) is a tree of dicts holding
``hist.Hist`` objects, :class:`~e2e_coffea.processor.booking.MeanImages`, numbers and
strings. Pickle could store it, but unpickling a file runs whatever code the file asks
for, so a shared ``output.pkl`` or a planted checkpoint was a way into the reader's
account. Here the tree goes into one zip file instead:

- ``tree.json``: the tree as JSON, with tagged nodes for what JSON lacks (histograms,
  mean images, arrays, tuples, numpy scalars);
- every histogram in UHI's zip layout (``uhi.io.zip``: JSON plus ``.npy`` arrays), so
  any UHI reader (hist, uproot, ROOT's UHI bridge) can read it without this package;
- every other array as ``.npy``, written and read with ``allow_pickle=False``.

Reading builds only those types; anything else in a file is an error. It round-trips
exactly: bin values and variances, category order, axis names and labels, every count.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

import hist
import numpy as np
import uhi.io.zip as uhi_zip
from hist import serialization

from ..exceptions import (
    E2EError,
    MalformedInputError,
    OutputFormatError,
    UnsafeOutputError,
)
from ..io.atomic import atomic_write_bytes
from ..io.jsonfiles import loads_json, read_regular
from ..io.npyfiles import check_npy_member
from .booking import MeanImages

__all__ = [
    "MAX_OUTPUT_BYTES",
    "OUTPUT_FILE",
    "PICKLED_OUTPUT_FILE",
    "dumps_output",
    "load_output",
    "loads_output",
    "save_output",
]

OUTPUT_FILE: Final = "output.zip"
"""The name ``e2e-coffea run`` gives a run's output inside ``--out``."""
PICKLED_OUTPUT_FILE: Final = "output.pkl"
"""What older versions wrote; read only with ``allow_pickle=True``."""

FORMAT: Final = "e2e-coffea-output"
VERSION: Final = 1
_TREE: Final = "tree.json"
_TAG: Final = "__e2e__"
_NUMERIC_KINDS: Final = frozenset("biuf")  # bool, int, unsigned, float: no objects, no strings
_MEMBER: Final = re.compile(r"^(hist|array)[0-9]+$")
MAX_OUTPUT_BYTES: Final = 8 * 1024**3
"""Most bytes the members of one output may declare in all (a run's hists are megabytes)."""


# -- writing ----------------------------------------------------------------------------
class _Writer:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and type(obj) in (int, float):
            return obj
        if isinstance(obj, np.generic):
            return self._scalar(obj, where)
        if isinstance(obj, np.ndarray):
            return {_TAG: "array", "ref": self._array(obj, where)}
        if isinstance(obj, hist.Hist):
            name = self._name("hist")
            uhi_zip.write(self.zf, name, cast(Any, serialization.to_uhi(obj)))
            return {_TAG: "hist", "ref": name}
        if isinstance(obj, MeanImages):
            obj.flush()  # sums still on a GPU join the host ones first
            return {
                _TAG: "mean_images",
                "channels": list(obj.channels),
                "sums": self.encode(obj.sums, f"{where}.sums"),
                "counts": self.encode(obj.counts, f"{where}.counts"),
            }
        if isinstance(obj, tuple):
            return {
                _TAG: "tuple",
                "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)],
            }
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, Mapping):
            out = {}
            for k, v in obj.items():
                if not isinstance(k, str) or k == _TAG:
                    msg = (
                        f"cannot save {where}: key {k!r} (keys must be strings other than {_TAG!r})"
                    )
                    raise OutputFormatError(msg)
                out[k] = self.encode(v, f"{where}[{k!r}]")
            return out
        msg = (
            f"cannot save {where}: {type(obj).__module__}.{type(obj).__qualname__} is not one of "
            f"dict, list, tuple, str, number, numpy array, hist.Hist, MeanImages"
        )
        raise OutputFormatError(msg)

    def _scalar(self, obj: np.generic, where: str) -> dict[str, Any]:
        if obj.dtype.kind not in _NUMERIC_KINDS:
            msg = f"cannot save {where}: numpy scalar of dtype {obj.dtype} (numbers only)"
            raise OutputFormatError(msg)
        return {_TAG: "scalar", "dtype": obj.dtype.str, "value": obj.item()}

    def _array(self, arr: np.ndarray, where: str) -> str:
        if arr.dtype.kind not in _NUMERIC_KINDS:
            msg = f"cannot save {where}: array of dtype {arr.dtype} (numbers only)"
            raise OutputFormatError(msg)
        name = self._name("array")
        with self.zf.open(f"{name}.npy", "w") as f:
            np.save(f, arr, allow_pickle=False)
        return name


def dumps_output(output: Mapping[str, Any], *, compresslevel: int = 1) -> bytes:
    """The output as the bytes of a zip file (see the module docstring for its layout).

    ``compresslevel`` 1 (fast) suits per-chunk checkpoints; histograms are mostly empty
    bins, which any level compresses well.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        tree = _Writer(zf).encode(output, "output")
        doc = {"format": FORMAT, "version": VERSION, "output": tree}
        zf.writestr(_TREE, json.dumps(doc, allow_nan=True))
    return buf.getvalue()


def save_output(output: Mapping[str, Any], directory: str | os.PathLike[str]) -> Path:
    """Write ``directory/output.zip`` (atomically: a reader never sees half a file)."""
    d = Path(directory)
    data = dumps_output(output)
    return atomic_write_bytes(d / OUTPUT_FILE, data, private=True)


# -- reading ----------------------------------------------------------------------------
class _Reader:
    def __init__(self, zf: zipfile.ZipFile, source: str) -> None:
        self.zf = zf
        self.source = source

    def bad(self, what: str) -> OutputFormatError:
        return OutputFormatError(f"{self.source}: {what}; not a file written by save_output")

    def decode(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        tag = obj.get(_TAG)
        if tag is None:
            return {k: self.decode(v) for k, v in obj.items()}
        if tag == "hist":
            data = uhi_zip.read(self.zf, self._ref(obj))
            return serialization.from_uhi(data)
        if tag == "array":
            return self._npy(self._ref(obj))
        if tag == "scalar":
            dtype = np.dtype(str(obj.get("dtype")))
            if dtype.kind not in _NUMERIC_KINDS:
                msg = f"scalar of dtype {dtype}"
                raise self.bad(msg)
            return dtype.type(obj["value"])
        if tag == "tuple":
            return tuple(self.decode(v) for v in obj["items"])
        if tag == "mean_images":
            return MeanImages(
                tuple(str(c) for c in obj["channels"]),
                self.decode(obj["sums"]),
                self.decode(obj["counts"]),
            )
        msg = f"unknown node {tag!r}"
        raise self.bad(msg)

    def _ref(self, node: dict[str, Any]) -> str:
        ref = node.get("ref")
        if not isinstance(ref, str) or not _MEMBER.match(ref):
            msg = f"bad member reference {ref!r}"
            raise self.bad(msg)
        return ref

    def _npy(self, name: str) -> np.ndarray:
        with self.zf.open(f"{name}.npy") as f:
            arr: np.ndarray = np.load(f, allow_pickle=False)
        if arr.dtype.kind not in _NUMERIC_KINDS:
            msg = f"array {name} of dtype {arr.dtype}"
            raise self.bad(msg)
        return arr


def _check_members(zf: zipfile.ZipFile, source: str) -> None:
    """Bound every member before anything is decoded or allocated.

    A ``.npy`` header is the writer's word for its array's shape: one claiming 14.6 TiB
    made ``np.load`` raise a raw MemoryError. Each header must describe exactly the bytes
    its member holds, and each member (as declared, and as inflated) stay under a cap;
    every JSON member parses strictly (unique keys, bounded depth)."""
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    if total > MAX_OUTPUT_BYTES:
        msg = f"{source}: members declare {total} bytes in all, more than the {MAX_OUTPUT_BYTES} accepted"
        raise OutputFormatError(msg)
    for info in infos:
        if info.filename.endswith(".npy"):
            check_npy_member(zf, info, source=source)
        elif info.filename.endswith(".json") and info.filename != _TREE:
            loads_json(zf.read(info), source=f"{source}: {info.filename}")


def loads_output(data: bytes, *, source: str = "output") -> dict[str, Any]:
    """Read what :func:`dumps_output` wrote. Builds only plain data, hists and MeanImages."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _check_members(zf, source)
            doc = loads_json(zf.read(_TREE), source=f"{source}: {_TREE}")
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                msg = f"{source}: {_TREE} is not an {FORMAT} document"
                raise OutputFormatError(msg)
            if doc.get("version") != VERSION:
                msg = (
                    f"{source}: format version {doc.get('version')!r}, this e2e-coffea reads "
                    f"version {VERSION}; update e2e-coffea"
                )
                raise OutputFormatError(msg)
            out = _Reader(zf, source).decode(doc["output"])
    except MalformedInputError as err:  # a member's JSON: a duplicate key, too deep
        raise OutputFormatError(str(err)) from err
    except E2EError:
        raise
    except (
        zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, TypeError, OSError,
        NotImplementedError, RuntimeError,  # zipfile: unknown compression; encrypted member
    ) as err:  # fmt: skip
        msg = f"{source}: not a readable run output ({type(err).__name__}: {err})"
        raise OutputFormatError(msg) from err
    except (MemoryError, RecursionError) as err:  # a last guard: _check_members bounds both
        msg = f"{source}: not a readable run output ({type(err).__name__}: too large or too deep)"
        raise OutputFormatError(msg) from err
    if not isinstance(out, dict):
        msg = f"{source}: the saved output is a {type(out).__name__}, expected a dict"
        raise OutputFormatError(msg)
    return out


def load_output(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> dict[str, Any]:
    """A run's output from ``e2e-coffea run --out DIR`` (``DIR`` or ``DIR/output.zip``).

    ``allow_pickle=True`` also reads an ``output.pkl`` from older versions. That is
    dangerous: unpickling runs any code the file asks for, with your permissions, so
    only allow it for a file you wrote yourself or whose author you trust; by default a
    pickle is never opened.
    """
    p = Path(path)
    if p.is_dir():
        if (p / OUTPUT_FILE).is_file():
            p = p / OUTPUT_FILE
        elif (p / PICKLED_OUTPUT_FILE).is_file():
            p = p / PICKLED_OUTPUT_FILE
        else:
            msg = f"no {OUTPUT_FILE} in {p}; expected the folder written by `e2e-coffea run --out`"
            raise OutputFormatError(msg)
    elif not p.is_file():
        msg = f"no run output at {p}; expected the folder of `e2e-coffea run --out` or its {OUTPUT_FILE}"
        raise OutputFormatError(msg)
    if p.suffix == ".zip" or zipfile.is_zipfile(p):
        return loads_output(
            read_regular(p, what="run output", max_bytes=MAX_OUTPUT_BYTES), source=str(p)
        )
    if not allow_pickle:
        msg = (
            f"{p} is not a saved output (a pickle, from an older e2e-coffea?); pickles run code "
            f"when read, so it was not opened: rerun `e2e-coffea run`, or pass allow_pickle=True "
            f"only if you trust whoever wrote the file"
        )
        raise UnsafeOutputError(msg)
    import pickle

    with p.open("rb") as f:
        out = pickle.load(f)  # the caller opted in, see the docstring
    if not isinstance(out, dict):
        msg = f"{p}: the pickled output is a {type(out).__name__}, expected a dict"
        raise OutputFormatError(msg)
    return out
