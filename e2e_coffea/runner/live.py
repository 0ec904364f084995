"""One Dask future per chunk, so a live dashboard can show each chunk's output as it lands.

:func:`e2e_coffea.run` merges chunk outputs inside coffea and hands back only the total;
for a live view, :func:`submit_chunks` runs the same processor on the same chunks (same
chunk ids, same metadata) as separate tasks and returns their futures, to be merged by
:meth:`~e2e_coffea.dashboards.PerformanceDashboard.watch` (or anything else) with ``distributed.as_completed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..exceptions import BadInputError
from ..frames.selection import ObjectCuts
from ..inference.shipped import TaggerSpec, resolve_tagger
from ..io import load_fileset
from ..processor import E2ETaggerProcessor
from .coffea_compat import unicode_safe_hashing

__all__ = ["ChunkItem", "chunk_items", "process_chunk", "submit_chunks"]


@dataclass(frozen=True)
class ChunkItem:
    """An entry range of one file, the unit of work and of the progress bar, with its
    dataset's metadata (cross-sections, layout, branch profile), as coffea passes it."""

    dataset: str
    path: str
    tree: str
    start: int
    stop: int
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


def chunk_items(fileset: Any, chunksize: int = 10_000) -> list[ChunkItem]:
    """Every file's entry ranges, as coffea's Runner plans them (same chunk ids).

    The ranges come from coffea itself: :meth:`coffea.processor.Runner.preprocess` (the
    public step :func:`e2e_coffea.run` goes through) reads each file's entry count and
    yields its ``WorkItem`` chunks (``FileMeta.chunks``, ``align_clusters=False``), so a
    change in coffea's chunk balancing reaches the live view and the main job together.
    """
    from coffea.nanoevents import BaseSchema
    from coffea.processor import IterativeExecutor, Runner

    if chunksize < 1:
        msg = f"chunksize must be >= 1, got {chunksize}"
        raise BadInputError(msg)
    fs = load_fileset(fileset)
    plain = {
        ds: {
            "files": {str(p): str(t or "Events") for p, t in e["files"].items()},
            "metadata": dict(e.get("metadata", {})),
        }
        for ds, e in fs.items()
    }
    runner = Runner(
        executor=IterativeExecutor(status=False), schema=BaseSchema, chunksize=chunksize,
        metadata_cache={},
    )  # fmt: skip
    with unicode_safe_hashing():  # coffea hashes each file's (dataset, path, tree)
        work = list(runner.preprocess(plain))
    meta = {ds: e["metadata"] for ds, e in plain.items()}
    return [
        ChunkItem(
            w.dataset, w.filename, w.treename, w.entrystart, w.entrystop, dict(meta[w.dataset])
        )
        for w in work
    ]


def process_chunk(proc: E2ETaggerProcessor, item: ChunkItem) -> dict[str, Any]:
    """Run the processor on one chunk exactly as coffea's Runner would (BaseSchema, same metadata)."""
    import uproot
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    meta = {
        **item.metadata,
        "dataset": item.dataset,
        "filename": item.path,
        "treename": item.tree,
        "entrystart": item.start,
        "entrystop": item.stop,
    }
    with uproot.open(item.path) as f:
        events = NanoEventsFactory.from_root(
            file=f,
            treepath=item.tree,
            schemaclass=BaseSchema,
            metadata=meta,
            mode="virtual",
            entry_start=item.start,
            entry_stop=item.stop,
        ).events()
        return proc.process(events)


def submit_chunks(
    client: Any,
    fileset: Any,
    taggers: Sequence[str | TaggerSpec],
    *,
    chunksize: int | None = None,
    cuts: ObjectCuts | None = None,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    gpu: bool = False,
    lumi_fb: float | None = 1.0,
) -> list[Any]:
    """Submit one task per chunk; returns the futures (results: processor outputs).

    Weighted like :func:`e2e_coffea.run` (``lumi_fb``; bad weight metadata fails here,
    before any task is submitted).

    ``gpu=True`` asks each task for the ``GPU=1`` resource, so only GPU-tagged workers
    (:func:`e2e_coffea.runner.cluster.local_cluster` ``gpu_workers``) take them. The workers'
    session caches are warmed by the same plugin :func:`e2e_coffea.run` registers.
    """
    from ..inference.sessions import SessionCachePlugin

    specs = [t if isinstance(t, TaggerSpec) else resolve_tagger(t) for t in taggers]
    proc = E2ETaggerProcessor(specs, cuts=cuts, device=device, lumi_fb=lumi_fb)
    fs = load_fileset(fileset)
    for dataset, entry in fs.items():
        proc.check_weights(dataset, entry.get("metadata", {}))
    if chunksize is None:  # as e2e_coffea.run would choose
        from .preflight import default_chunksize

        chunksize = default_chunksize(fs, proc)
    items = chunk_items(fs, chunksize)
    client.register_plugin(
        SessionCachePlugin([s.path for s in specs], sha256=[s.sha256 for s in specs]),
        name=SessionCachePlugin.name,
    )
    extra = {"resources": {"GPU": 1}} if gpu else {}
    proc_future = client.scatter(proc, broadcast=True)
    return [client.submit(process_chunk, proc_future, item, pure=False, **extra) for item in items]
