"""e2e-coffea: end-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

The package reads top to bottom as the data flows:
files (:mod:`io`, :mod:`sim`) -> hits -> frames (:mod:`frames`) -> tensors ->
scores (:mod:`models`, :mod:`inference`) -> hists -> dashboards.

``from e2e_coffea import Tagger`` gives the tagger API for any coffea processor;
``e2e_coffea.run`` the main validation job. Both import lazily, so that
``import e2e_coffea`` stays cheap on workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from .version import __version__

if TYPE_CHECKING:
    from .hists.report import RunReport

__all__ = ["IncompleteRunError", "RunReport", "Tagger", "__version__", "run"]


def run(
    fileset: str | os.PathLike[str] | dict[str, dict[str, Any]],
    taggers: Sequence[Any],
    *,
    out: str | os.PathLike[str] | None = None,
    executor: Literal["iterative", "futures", "dask"] = "iterative",
    scheduler: str | None = None,
    workers: int = 1,
    gpu_workers: int = 0,
    chunksize: int | None = None,
    allow_incomplete: bool = False,
    skip_bad_files: bool = False,
    retries: int = 0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    recompute_checkpoints: bool = False,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    cluster: str | os.PathLike[str] | None = None,
    triton: str | None = None,
    triton_wire: Literal["dense", "sparse"] = "dense",
    lumi: float = 1.0,
    unweighted: bool = False,
    precision: str = "fp32",
    branches: str | os.PathLike[str] | None = None,
    client: Any = None,
    cuts: Any = None,
    progress: bool = True,
) -> RunReport:
    """The main job, as ``e2e-coffea run``: every keyword is the command's flag of the
    same name (``--gpu-workers`` is ``gpu_workers``), with the same default.

    ``taggers``: shipped names, ``.onnx`` paths, :class:`~e2e_coffea.inference.TaggerSpec` or :class:`Tagger`
    objects. With ``out`` the run's files (``output.zip``, ``summary.json``, ``roc.png``,
    ``facility.json``) are written there, exactly as the command writes them; without it
    nothing is written, and ``result.write(out)`` does it later. ``result.summary()`` is
    what ``summary.json`` holds; the result is also a
    :class:`~e2e_coffea.runner.RunResult` (``.output``, ``.complete``, ``.failed``).

    Python only: ``client`` (a running ``distributed.Client`` for ``executor="dask"``),
    ``cuts`` (an :class:`~e2e_coffea.frames.selection.ObjectCuts`) and ``progress``.
    An incomplete run (``skip_bad_files`` skipped something) raises
    :class:`~e2e_coffea.hists.report.IncompleteRunError`, after writing ``out``, unless
    ``allow_incomplete``; its ``.report`` holds the partial result.
    """
    from .exceptions import BadInputError
    from .hists.report import RunReport
    from .inference import Tagger
    from .inference.shipped import resolve_tagger
    from .runner import run as run_job
    from .runner.outputs import check_out_dir

    if out is not None:
        check_out_dir(out)  # before hours of chunks, not after
    given = [t if isinstance(t, Tagger) else resolve_tagger(t) for t in taggers]
    specs = [t.spec if isinstance(t, Tagger) else t for t in given]
    common: dict[str, Any] = {
        "chunksize": chunksize, "skip_bad_files": skip_bad_files, "retries": retries,
        "checkpoint_dir": checkpoint_dir, "recompute_checkpoints": recompute_checkpoints,
        "cuts": cuts, "device": device, "triton_url": triton, "triton_wire": triton_wire, "precision": precision,
        "branches": branches, "lumi_fb": None if unweighted else lumi, "progress": progress,
    }  # fmt: skip
    facility = None
    if cluster is not None:
        if scheduler or client is not None:
            msg = (
                "--cluster and --scheduler are exclusive (cluster= and scheduler=/client= in "
                "Python): the config says where the workers are"
            )
            raise BadInputError(msg)
        from .facility import run_on_cluster

        gpu = gpu_workers > 0 or device == "cuda"
        result, facility = run_on_cluster(cluster, fileset, specs, gpu_requested=gpu, **common)
    else:
        result = run_job(
            fileset, given, executor=executor, workers=workers, gpu_workers=gpu_workers,
            scheduler=scheduler, client=client, **common,
        )  # fmt: skip
    report = RunReport.of(result, specs, cuts=cuts, facility=facility)
    if out is not None:
        report.write(out)
    if not allow_incomplete:
        report.require_complete(out)
    return report


def __getattr__(name: str) -> Any:
    if name == "Tagger":
        from .inference.tagger import Tagger

        return Tagger
    if name in ("RunReport", "IncompleteRunError"):
        from .hists import report

        return getattr(report, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
