"""Shared data for the main-job tests: a tiny generated tau + qcd sample in both layouts
and tiny untrained ONNX taggers that carry their contracts.

Everything is built once per session into pytest's base temp folder and shared by the
processor, runner, dashboard, notebook and facility tests; a ``.done`` marker per item
makes a re-run within the same base folder reuse the files instead of generating again.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.layouts import E2E_TREE, SPARSE_COLLECTIONS, SPARSE_EVENT_BRANCHES, SPARSE_TREE

SAMPLE_EVENTS = 40
"""Per process: ~60 qcd and ~20 tau jets pass the default cuts; enough to see a ROC."""
PROCESSES = ("qcd", "tau")
TOP_SAMPLE_EVENTS = 12
"""Per process of the top + qcd sample: ~24 FatJets each, for the FatJet path's tests."""
TREES = {"sparse": SPARSE_TREE, "e2e": E2E_TREE}
OUTPUT_GAIN = 50.0
"""An untrained net's scores bunch up near 0.5; scaling its last layer spreads them over
a few hundred of the 1000 score bins, so histogram comparisons and ROCs mean something."""

_REPO = str(Path(__file__).resolve().parent.parent)
if _REPO not in sys.path:
    sys.path.append(_REPO)  # after site-packages: an installed e2e_coffea still wins
os.environ["PYTHONPATH"] = os.pathsep.join([*filter(None, [os.environ.get("PYTHONPATH")]), _REPO])
"""Processes the tests start (Dask workers, the Futures pool, torch's spawned DDP ranks)
unpickle classes and functions defined in test modules by reference (``tests.…``), so they
must be able to import them: multiprocessing's spawn hands its children this ``sys.path``,
other subprocesses get ``PYTHONPATH``. Needed when e2e-coffea is installed from a wheel, as
in CI (an editable install happens to put the repository root on ``sys.path``)."""


@pytest.fixture
def dask_awkward_module() -> Any:
    """dask-awkward, for coffea's dask mode. It pins dask < 2025.4, so it cannot live in
    the main test environment: there these tests skip, and CI runs them (``-m
    dask_awkward``) in a second environment with ``coffea[dask-awkward]``, where
    ``E2E_REQUIRE_DASK_AWKWARD=1`` turns a missing package into a failure."""
    try:
        import dask_awkward
    except ImportError:
        why = "needs coffea[dask-awkward], which pins dask < 2025.4"
        if os.environ.get("E2E_REQUIRE_DASK_AWKWARD") == "1":
            pytest.fail(f"E2E_REQUIRE_DASK_AWKWARD=1 but dask_awkward is missing: {why}")
        pytest.skip(why)
    return dask_awkward


def _once(target: Path, build: Callable[[Path], None]) -> Path:
    done = target.parent / f"{target.name}.done"
    if not done.exists():
        if target.is_dir():
            shutil.rmtree(target)
        build(target)
        done.touch()
    return target


def _root(factory: pytest.TempPathFactory) -> Path:
    root = factory.getbasetemp() / "main-job-data"
    root.mkdir(exist_ok=True)
    return root


def export_tagger(
    path: Path, *, kind: str, model: str = "simplenet", seed: int = 0, gain: float = OUTPUT_GAIN,
    validity: dict[str, float] | None = None,
) -> Path:  # fmt: skip
    """An untrained model with a real contract: ``jet`` (qg channels, 125x125), ``fatjet``
    (top8 channels, 125x125 windows of R = 0.8 jets, qcd vs top) or ``eg`` (eb_energy +
    eb_time, 32x32 e/gamma crops), valid in ``validity`` when given."""
    import torch

    from e2e_coffea.export import EG_CROP, Contract, export_onnx
    from e2e_coffea.frames import load_norm, resolve_channels
    from e2e_coffea.models import create_model

    if kind in ("jet", "fatjet"):
        preset = "qg" if kind == "jet" else "top8"
        chs = tuple(s.name for s in resolve_channels(preset, frame="jet"))
        c = Contract(
            task="classification",
            model_name=model,
            channels=chs,
            frame_size=(125, 125),
            class_names=("qcd", "tau" if kind == "jet" else "top"),
            channel_preset=preset,
            normalisation=load_norm(preset).to_dict(),
            kind=kind,
        )
    else:
        chs = ("eb_energy", "eb_time")
        c = Contract(
            task="classification",
            model_name=model,
            channels=chs,
            frame_size=(32, 32),
            class_names=("photon", "electron"),
            crop=EG_CROP,
            normalisation=load_norm("eg").to_dict(),
        )
    if validity is not None:
        c = dataclasses.replace(c, validity=validity)
    torch.manual_seed(seed)
    net = create_model(model, len(chs), 1).eval()
    last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(gain)
    export_onnx(net, path, c, (2, len(chs), *c.frame_size))
    return path


def sample_data(factory: pytest.TempPathFactory) -> SimpleNamespace:
    from e2e_coffea.sim.generate import generate

    target = _once(
        _root(factory) / "sample",
        lambda p: generate(list(PROCESSES), SAMPLE_EVENTS, p, layout="both", seed=3),
    )
    files = {
        (proc, lay): target / proc / f"{proc}_000.{lay}.root" for proc in PROCESSES for lay in TREES
    }
    return SimpleNamespace(
        root=target, files=files, fileset={lay: target / f"fileset.{lay}.json" for lay in TREES}
    )


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``files[(process, layout)]`` -> ROOT file; ``fileset[layout]`` -> fileset JSON."""
    return sample_data(tmp_path_factory)


def top_sample_data(factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A tiny boosted ttbar + QCD sample (FatJets) in both layouts."""
    from e2e_coffea.sim.generate import generate

    procs = ("qcd", "top")
    target = _once(
        _root(factory) / "top_sample",
        lambda p: generate(list(procs), TOP_SAMPLE_EVENTS, p, layout="both", seed=5),
    )
    files = {
        (proc, lay): target / proc / f"{proc}_000.{lay}.root" for proc in procs for lay in TREES
    }
    return SimpleNamespace(
        root=target, files=files, fileset={lay: target / f"fileset.{lay}.json" for lay in TREES}
    )


@pytest.fixture(scope="session")
def top_sample(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Like ``sample``, for ``top`` and ``qcd``: FatJets of both labels."""
    return top_sample_data(tmp_path_factory)


@pytest.fixture(scope="session")
def fatjet_tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained top-vs-QCD tagger of FatJets (kind ``fatjet``)."""
    return _once(
        _root(tmp_path_factory) / "fatjet_simplenet.onnx",
        lambda p: export_tagger(p, kind="fatjet", seed=2),
    )


@pytest.fixture(scope="session")
def jet_tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _once(
        _root(tmp_path_factory) / "jet_simplenet.onnx", lambda p: export_tagger(p, kind="jet")
    )


@pytest.fixture(scope="session")
def make_tagger() -> Callable[..., Path]:
    """:func:`export_tagger` for test modules (a conftest is not importable under importlib)."""
    return export_tagger


@pytest.fixture(scope="session")
def eg_tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _once(
        _root(tmp_path_factory) / "eg_simplenet.onnx", lambda p: export_tagger(p, kind="eg", seed=1)
    )


def open_events(
    path: Path,
    layout: str,
    dataset: str,
    *,
    start: int = 0,
    stop: int | None = None,
    access_log: list[Any] | None = None,
) -> Any:
    """A coffea NanoEvents chunk exactly as the Runner hands it to ``process``."""
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    tree = TREES[layout]
    if stop is None:
        with uproot.open(path) as f:
            stop = int(f[tree].num_entries)
    meta = {
        "dataset": dataset,
        "filename": str(path),
        "treename": tree,
        "entrystart": start,
        "entrystop": stop,
    }
    return NanoEventsFactory.from_root(
        {str(path): tree},
        schemaclass=BaseSchema,
        metadata=meta,
        mode="virtual",
        entry_start=start,
        entry_stop=stop,
        access_log=access_log if access_log is not None else [],
    ).events()


@pytest.fixture
def events() -> Callable[..., Any]:
    return open_events


def rewrite_sparse(
    src: Path,
    dst: Path,
    *,
    empty: tuple[str, ...] = (),
    n_events: int | None = None,
    drop: tuple[str, ...] = (),
    drop_fields: tuple[str, ...] = (),
) -> Path:
    """Copy a sparse file, emptying collections (``EcalHit`` ...), keeping only the first
    ``n_events`` or leaving collections or branches (``Jet_genMass``) out entirely (for
    missing-branch tests)."""
    from e2e_coffea.io import write_sparse

    with uproot.open(src) as f:
        flat = f[SPARSE_TREE].arrays()
    if n_events is not None:
        flat = flat[:n_events]
    chunk: dict[str, Any] = {}
    for coll, fields in SPARSE_COLLECTIONS.items():
        arr = ak.zip({k: flat[f"{coll}_{k}"] for k in fields if f"{coll}_{k}" not in drop_fields})
        chunk[coll] = arr[:, :0] if coll in empty else arr
    chunk["event"] = ak.zip({b: flat[b] for b in SPARSE_EVENT_BRANCHES})
    if drop or drop_fields:
        data = {c: chunk[c] for c in SPARSE_COLLECTIONS if c not in drop}
        data.update({b: np.asarray(flat[b]) for b in SPARSE_EVENT_BRANCHES})
        types = {k: ak.type(v) if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}
        with uproot.recreate(dst) as out:
            out.mktree(SPARSE_TREE, types).extend(data)
        return dst
    write_sparse(dst, chunk)
    return dst


@pytest.fixture
def rewrite() -> Callable[..., Path]:
    return rewrite_sparse


def same_hists(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Histogram dicts equal bin by bin (values and variances), whatever order their
    (dataset, label, tagger) categories grew in. Weighted sums may differ in the last
    bits with the order chunks were merged in (floating-point addition does not
    associate), so they agree to 1e-12 relative; counts agree exactly."""

    def view(h: Any) -> dict[tuple[str, ...], Any]:
        out = {}
        for d in h.axes["dataset"]:
            for lab in h.axes["label"]:
                for t in h.axes["tagger"]:
                    cell = h[{"dataset": d, "label": lab, "tagger": t}]
                    v = np.asarray(cell.view(flow=True) if hasattr(cell, "view") else [cell])
                    if v.dtype.names is None:  # a count histogram (Int64 storage)
                        v = np.rec.fromarrays([v, v], names=["value", "variance"])
                    if v["value"].any():
                        out[(d, lab, t)] = v
        return out

    if set(a) != set(b):
        return False
    for name in a:
        va, vb = view(a[name]), view(b[name])
        if set(va) != set(vb):
            return False
        for k in va:
            if not (
                np.allclose(va[k]["value"], vb[k]["value"], rtol=1e-12, atol=0)
                and np.allclose(va[k]["variance"], vb[k]["variance"], rtol=1e-12, atol=0)
            ):
                return False
    return True


@pytest.fixture(scope="session")
def hists_equal() -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """``same_hists`` as a fixture: test modules cannot import conftest under importlib mode."""
    return same_hists


@pytest.fixture(autouse=True, scope="session")
def _batch_size_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Measured batch sizes go to the session's temp folder, never the user's cache (the
    processes the tests start inherit it)."""
    from e2e_coffea.inference.calibration import CACHE_ENV

    before = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.getbasetemp() / "e2e-cache")
    yield
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.cuda`` runs skip, with the reason, unless torch sees a GPU. Device
    tests (marker ``gpu``) parametrize ``device`` over ``["cpu", pytest.param("cuda",
    marks=pytest.mark.cuda)]``: the CPU run happens everywhere, the CUDA one on a GPU
    (``benchmarks/gpu_check.sh tests`` runs those)."""
    if item.get_closest_marker("cuda") is not None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("cuda test: torch sees no CUDA GPU on this machine")


@pytest.fixture
def cpu_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process sees no GPU, whatever the machine has: torch finds no CUDA device and
    onnxruntime offers no CUDA or TensorRT provider. A test of the CPU-only behaviour
    (an error for ``cuda``, ``auto`` picking the CPU) then runs on GPU machines too."""
    import onnxruntime as ort
    import torch

    gpu = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
    cpu = [p for p in ort.get_available_providers() if p not in gpu]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(ort, "get_available_providers", lambda: list(cpu))


@pytest.fixture
def cuda_ort(request: pytest.FixtureRequest) -> None:
    """Skip a CUDA run (not a CPU one) unless onnxruntime can run on CUDA here."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("device") == "cuda":
        import onnxruntime as ort

        have = ort.get_available_providers()
        if "CUDAExecutionProvider" not in have:
            pytest.skip(
                f"cuda test: onnxruntime {ort.__version__} has no CUDAExecutionProvider ({have})"
            )


@pytest.fixture(scope="session")
def synthetic_fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sparse files of synthetic events (no Pythia: a GPU machine need not have it)."""
    from e2e_coffea.frames.testing import write_synthetic_fileset

    return write_synthetic_fileset(tmp_path_factory.mktemp("gpu-sample"), files=2, events=40)


@pytest.fixture(scope="session")
def clean(sample: SimpleNamespace, jet_tagger: Path, eg_tagger: Path) -> Any:
    """The reference run: both taggers over the sparse fileset with the Iterative executor
    in chunks of 15 (weighted by the sample's cross-sections at 1 fb^-1, the default)."""
    from e2e_coffea.runner import run

    return run(
        sample.fileset["sparse"],
        [jet_tagger, eg_tagger],
        executor="iterative",
        chunksize=15,
        device="cpu",
        progress=False,
    )
