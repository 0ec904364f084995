"""Write e2e ntuples the way MLAnalyzer does: ROOT's own ``std::vector<T>`` branches.

uproot writes a jagged branch as a counter plus a C array; CMSSW writes ``std::vector``
objects, with a 10-byte header per entry, and uproot reads those about 2x slower. The
tests and ``benchmarks/frames.py`` use this writer to hold the reader (and the sparse vs
dense comparison) to files shaped like real MLAnalyzer output.

PyROOT (``pip install root``) is not a dependency. The writer runs in a subprocess so
ROOT's import-time side effects stay out of the caller.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError, FileLayoutError
from ..layouts import E2E_TREE
from .arrays import jagged

__all__ = ["have_root", "write_root_vectors"]

# Vectors are filled with one C++ ``assign`` per entry: a Python loop over values
# (push_back) takes minutes for 280x360 images.
_WRITER = r"""
import sys, numpy as np, ROOT
ROOT.gInterpreter.Declare('''
#include <vector>
void e2e_assign_f(std::vector<float>& v, const float* p, long n) { v.assign(p, p + n); }
void e2e_assign_i(std::vector<int>& v, const int* p, long n) { v.assign(p, p + n); }
''')
data = np.load(sys.argv[1])
out, tree, compression = sys.argv[2], sys.argv[3], int(sys.argv[4])
f = ROOT.TFile(out, "RECREATE", "", compression)
folder, _, name = tree.rpartition("/")
if folder:
    f.mkdir(folder).cd()
t = ROOT.TTree(name, "e2e ntuple written by ROOT (std::vector branches, as MLAnalyzer)")
names = [k[len("v_"):] for k in data.files if k.startswith("v_")]
vals = {k: np.ascontiguousarray(data["v_" + k]) for k in names}
offs = {k: data["o_" + k] for k in names}
vecs, fill = {}, {}
for k in names:
    is_int = vals[k].dtype.kind == "i"
    vecs[k] = ROOT.std.vector("int" if is_int else "float")()
    fill[k] = ROOT.e2e_assign_i if is_int else ROOT.e2e_assign_f
    t.Branch(k, vecs[k])
# per-entry scalars (run/lumi/event numbers): leaf codes i, I, L (ULong64_t), l, F
scalars = [k[len("s_"):] for k in data.files if k.startswith("s_")]
sval = {k: data["s_" + k] for k in scalars}
sbuf = {k: np.zeros(1, dtype=sval[k].dtype) for k in scalars}
for k in scalars:
    code = {"int32": "I", "uint32": "i", "int64": "L", "uint64": "l", "float32": "F"}[str(sval[k].dtype)]
    t.Branch(k, sbuf[k], f"{k}/{code}")
for i in range(int(data["n_entries"])):
    for k in names:
        lo, hi = int(offs[k][i]), int(offs[k][i + 1])
        if hi > lo:
            fill[k](vecs[k], vals[k][lo:hi], hi - lo)
        else:  # an empty slice is no buffer for cppyy
            vecs[k].clear()
    for k in scalars:
        sbuf[k][0] = sval[k][i]
    t.Fill()
t.Write()
f.Close()
"""


def have_root() -> bool:
    """Whether PyROOT is importable (checked without importing it)."""
    return importlib.util.find_spec("ROOT") is not None


def _flat(name: str, array: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values (int32 or float32) and offsets from 0 of a per-entry vector branch."""
    arr = array if isinstance(array, np.ndarray) else ak.Array(array)
    if arr.ndim != 2:
        msg = f"branch {name!r}: a std::vector branch needs (events, n) or var * T values, got {arr.ndim} dimension(s)"
        raise BadInputError(msg)
    j = jagged(arr)
    kind = j.values.dtype.kind
    if kind not in "iuf":
        msg = f"branch {name!r}: values of dtype {j.values.dtype} cannot go into std::vector<int|float>"
        raise BadInputError(msg)
    return j.values.astype(np.int32 if kind in "iu" else np.float32, copy=False), j.offsets


def write_root_vectors(
    path: str | os.PathLike[str],
    branches: Mapping[str, Any],
    *,
    tree: str = E2E_TREE,
    compression: int = 101,
    timeout: float = 1800,
    scalars: Mapping[str, Any] | None = None,
) -> int:
    """Write per-entry vectors (``var * int|float`` arrays) as ``std::vector`` branches.

    ``compression`` is ROOT's algorithm*100+level; 101 (ZLIB 1) is TFile's default and
    so what CMSSW jobs write. Integers become ``std::vector<int>``, the rest
    ``std::vector<float>`` (MLAnalyzer stores seeds and truth flags as floats: pass
    float arrays for those). ``scalars`` are one number per entry, written as plain
    leaves of their numpy type (int32, uint32, int64, uint64 or float32), as
    MLAnalyzer writes ``runId``, ``lumiId`` and ``eventId``. Returns the number of
    entries written."""
    if not branches:
        msg = "no branches to write"
        raise BadInputError(msg)
    payload: dict[str, npt.NDArray[Any]] = {}
    n_entries: int | None = None
    for name, value in (scalars or {}).items():
        arr = np.asarray(value)
        if arr.ndim != 1 or str(arr.dtype) not in ("int32", "uint32", "int64", "uint64", "float32"):
            msg = f"scalar branch {name!r}: need one int32/uint32/int64/uint64/float32 per entry, got {arr.dtype} {arr.shape}"
            raise BadInputError(msg)
        payload[f"s_{name}"] = arr
    for name, array in branches.items():
        values, offsets = _flat(name, array)
        if n_entries is None:
            n_entries = len(offsets) - 1
        elif len(offsets) - 1 != n_entries:
            msg = (
                f"branch {name!r} has {len(offsets) - 1} entries, the first branch has {n_entries}"
            )
            raise BadInputError(msg)
        payload[f"v_{name}"], payload[f"o_{name}"] = values, offsets
    assert n_entries is not None  # set by the first of the (non-empty) branches
    bad = [k[2:] for k, v in payload.items() if k.startswith("s_") and len(v) != n_entries]
    if bad:
        msg = f"scalar branch(es) {bad} do not have one value per entry ({n_entries})"
        raise BadInputError(msg)
    if not have_root():
        msg = "writing std::vector branches needs PyROOT: pip install root"
        raise FileLayoutError(msg)
    with tempfile.TemporaryDirectory() as tmp:
        # numeric arrays only: no pickle (and no keyword left for ``**payload`` to clash with)
        np.savez(Path(tmp) / "in.npz", allow_pickle=False, n_entries=np.int64(n_entries), **payload)
        (Path(tmp) / "writer.py").write_text(_WRITER)
        done = subprocess.run(
            [
                sys.executable,
                str(Path(tmp) / "writer.py"),
                str(Path(tmp) / "in.npz"),
                os.fspath(path),
                tree,
                str(compression),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        msg = f"ROOT could not write {os.fspath(path)}: {done.stderr.strip().splitlines()[-1:]}"
        raise FileLayoutError(msg)
    return int(n_entries or 0)
