"""e2e-coffea: end-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

The package reads top to bottom as the data flows:
files (:mod:`io`, :mod:`sim`) -> hits -> frames (:mod:`frames`) -> tensors ->
scores (:mod:`models`, :mod:`inference`) -> hists -> dashboards.

``from e2e_coffea import Tagger`` gives the tagger API for any coffea processor;
``e2e_coffea.run`` the main validation job. Both import lazily, so that
``import e2e_coffea`` stays cheap on workers.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Tagger", "__version__", "run"]


def run(fileset: Any, taggers: Any, **kwargs: Any) -> Any:
    """Run taggers over a fileset; see :func:`e2e_coffea.runner.run`."""
    from .runner import run as _run

    return _run(fileset, taggers, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Tagger":
        from .inference.tagger import Tagger

        return Tagger
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
