"""``Tagger`` where coffea users are: NanoAODSchema collections as well as BaseSchema flat
names, in coffea's eager, virtual and dask modes, on both layouts, and behind the
``coffea.ml_tools`` interface. Every mode gives exactly the BaseSchema eager scores."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
from coffea import processor
from coffea.nanoevents import BaseSchema, NanoAODSchema, NanoEventsFactory

from e2e_coffea.exceptions import MissingBranchError
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.ml_tools import TaggerWrapper
from e2e_coffea.inference.sessions import cached_sessions, clear_cache

TREES = {"sparse": "Events", "e2e": "fevt/RHTree"}
SCHEMAS = {"base": BaseSchema, "nanoaod": NanoAODSchema}
CASES = [("sparse", "base"), ("sparse", "nanoaod"), ("e2e", "base")]
"""NanoAODSchema cannot build e2e (MLAnalyzer) trees at all: they have no run,
luminosityBlock and event branches and count their vectors as ``n_jet_Pt``; coffea
refuses them before any of our code runs, so e2e files are read with BaseSchema."""


@pytest.fixture(autouse=True)
def _nanoaod_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our files carry no Muon/Electron cross-references; NanoAODSchema warns per index."""
    monkeypatch.setattr(NanoAODSchema, "warn_missing_crossrefs", False)


def _events(sample: Any, layout: str, schema: str, mode: str, **kw: Any) -> Any:
    path = sample.files[("tau", layout)]
    return NanoEventsFactory.from_root(
        {str(path): TREES[layout]}, schemaclass=SCHEMAS[schema], mode=mode, **kw
    ).events()


@pytest.fixture(scope="module")
def reference(sample: Any, jet_tagger: Path) -> dict[str, list[Any]]:
    """BaseSchema eager scores per layout: the scores every other mode must give."""
    out = {}
    for layout in TREES:
        events = NanoEventsFactory.from_root(
            {str(sample.files[("tau", layout)]): TREES[layout]},
            schemaclass=BaseSchema,
            mode="eager",
        ).events()
        out[layout] = Tagger(jet_tagger, device="cpu")(events).tolist()
    flat = [s for jets in out["sparse"] for s in jets]
    assert any(s is None for s in flat)
    assert any(s is not None for s in flat)
    return out


@pytest.mark.parametrize("mode", ["eager", "virtual"])
@pytest.mark.parametrize(("layout", "schema"), CASES)
def test_eager_and_virtual_events_of_either_schema(
    sample: Any, jet_tagger: Path, reference: dict[str, list[Any]], layout: str, schema: str, mode: str
) -> None:  # fmt: skip
    log: list[Any] = []
    events = _events(sample, layout, schema, mode, access_log=log)
    if schema == "nanoaod":
        assert "Jet_seedIeta" not in events.fields
        assert "seedIeta" in events.Jet.fields
    tagger = Tagger(jet_tagger, device="cpu")
    assert tagger(events).tolist() == reference[layout]
    if mode == "virtual":  # only what the tagger needs is read, counters aside
        required, optional = tagger.branches(layout)
        read = {a.branch for a in log} - {f"n{b.split('_')[0]}" for b in required}
        assert set(required) <= read <= set(required) | set(optional)


def test_nanoaod_chunks_say_what_is_missing_by_its_flat_name(sample: Any, jet_tagger: Path) -> None:
    events = _events(sample, "sparse", "nanoaod", "eager")
    lean = ak.with_field(
        events, events.Jet[[f for f in events.Jet.fields if f != "seedIphi"]], "Jet"
    )
    with pytest.raises(MissingBranchError, match="Jet_seedIphi"):
        Tagger(jet_tagger, device="cpu", layout="sparse")(lean)


def test_the_runner_with_its_default_schema(
    sample: Any, jet_tagger: Path, reference: dict[str, list[Any]]
) -> None:
    class Scores(processor.ProcessorABC):  # type: ignore[misc]
        def __init__(self) -> None:
            self.tagger = Tagger(jet_tagger, device="cpu")

        def process(self, events: Any) -> dict[str, Any]:
            return {"scores": self.tagger(events).tolist()}  # lists add up in order

        def postprocess(self, accumulator: Any) -> Any:
            return accumulator

    fileset = {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}}}
    runner = processor.Runner(executor=processor.IterativeExecutor(status=False), chunksize=13)
    assert runner.schema is NanoAODSchema  # what a user gets without asking
    out = runner(fileset, Scores())
    assert list(out["scores"]) == reference["sparse"]


def test_ml_tools_wrapper_delegates_to_the_tagger(
    sample: Any, jet_tagger: Path, reference: dict[str, list[Any]]
) -> None:
    from coffea.ml_tools import numpy_call_wrapper

    wrapper = TaggerWrapper(jet_tagger, device="cpu")
    assert isinstance(wrapper, numpy_call_wrapper)
    events = _events(sample, "sparse", "nanoaod", "virtual")
    assert wrapper(events).tolist() == reference["sparse"]
    (frames,), kwargs = wrapper.prepare_awkward(events)
    assert kwargs == {}
    assert ak.to_numpy(frames).shape[1:] == (3, 125, 125)
    scored = np.array([s for jets in reference["sparse"] for s in jets if s is not None])
    np.testing.assert_array_equal(wrapper.numpy_call(ak.to_numpy(frames)), scored)
    with pytest.raises(ValueError, match=r"shape \(batch, 3, 125, 125\), got \(2, 3, 32, 32\)"):
        wrapper.numpy_call(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(TypeError, match="takes 1 input"):
        wrapper.numpy_call(ak.to_numpy(frames), ak.to_numpy(frames))


# -- dask-awkward: NanoEventsFactory(mode="dask") and apply_to_fileset ----------------------
@pytest.mark.dask_awkward
@pytest.mark.parametrize(("layout", "schema"), CASES)
def test_dask_events_map_the_tagger_over_partitions(
    sample: Any,
    jet_tagger: Path,
    reference: dict[str, list[Any]],
    layout: str,
    schema: str,
    dask_awkward_module: Any,
) -> None:
    dak = dask_awkward_module
    events = _events(sample, layout, schema, "dask")
    tagger = Tagger(jet_tagger, device="cpu")
    lazy = tagger(events)
    assert isinstance(lazy, dak.Array)
    required, optional = tagger.branches(layout)  # what column projection may read
    counters = (
        {f"n{b.split('_')[0]}" for b in required + optional} if schema == "nanoaod" else set()
    )
    (read,) = dak.report_necessary_columns(lazy).values()
    assert set(required) <= read <= set(required) | set(optional) | counters
    assert tagger.stats == Counter()  # building the graph scored nothing
    assert lazy.compute().tolist() == reference[layout]  # dask's threads, in this process
    eager = Tagger(jet_tagger, device="cpu")
    eager(_events(sample, layout, "base", "eager"))
    assert tagger.stats == eager.stats
    wrapped = TaggerWrapper(jet_tagger, device="cpu")(_events(sample, layout, schema, "dask"))
    assert wrapped.compute().tolist() == reference[layout]  # the ml_tools face, lazily too


def _count_session_builds() -> None:
    """On a worker: count the onnxruntime sessions it builds from now on."""
    from e2e_coffea.inference import sessions

    real = sessions._build

    def counted(key: Any) -> Any:
        sessions.BUILT = getattr(sessions, "BUILT", 0) + 1  # type: ignore[attr-defined]
        return real(key)

    sessions.clear_cache()
    sessions._build = counted


def _session_builds() -> int:
    from e2e_coffea.inference import sessions

    return int(getattr(sessions, "BUILT", 0))


@pytest.mark.dask_awkward
def test_apply_to_fileset_on_a_cluster_builds_one_session_per_worker(
    sample: Any, jet_tagger: Path, reference: dict[str, list[Any]], dask_awkward_module: Any
) -> None:
    import dask
    from coffea.dataset_tools import apply_to_fileset
    from distributed import Client, LocalCluster

    path = sample.files[("tau", "sparse")]
    n = int(uproot.open(path)["Events"].num_entries)
    steps = [[0, n // 3], [n // 3, 2 * n // 3], [2 * n // 3, n]]
    fileset = {"tau": {"files": {str(path): {"object_path": "Events", "steps": steps}}}}
    clear_cache()
    tagger = Tagger(jet_tagger, device="cpu")
    out = apply_to_fileset(tagger, fileset, schemaclass=NanoAODSchema)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        client.run(_count_session_builds)
        (scores,) = dask.compute(out["tau"])
        builds = client.run(_session_builds)
    assert scores.tolist() == reference["sparse"]
    assert list(builds.values()) == [1]  # three partitions, one session
    assert cached_sessions() == {}  # building the graph ran no model here
    assert tagger.stats == Counter()  # the counts stayed on the worker


def test_the_main_processor_reads_nanoaod_collections_too(
    sample: Any, jet_tagger: Path, hists_equal: Any
) -> None:
    from e2e_coffea.processor import E2ETaggerProcessor

    fileset = {"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}}}
    out = {}
    for schema in (BaseSchema, NanoAODSchema):
        runner = processor.Runner(
            executor=processor.IterativeExecutor(status=False), schema=schema, chunksize=20
        )
        proc = E2ETaggerProcessor([str(jet_tagger)], device="cpu", mean_images=False)
        out[schema.__name__] = runner(fileset, proc)
    assert not out["NanoAODSchema"]["failed"]
    flow = out["NanoAODSchema"]["cutflow"]["tau"]
    assert flow["jet_simplenet: jets window inside eta acceptance"] > 0
    assert hists_equal(out["BaseSchema"]["hists"], out["NanoAODSchema"]["hists"])
