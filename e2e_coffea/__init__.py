"""e2e-coffea: end-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

The package reads top to bottom as the data flows:
files (:mod:`io`, :mod:`sim`) -> hits -> frames (:mod:`frames`) -> tensors ->
scores (:mod:`models`, :mod:`inference`) -> hists -> dashboards.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]


def run(fileset, taggers, **kwargs):  # type: ignore[no-untyped-def]
    """Run taggers over a fileset; see :func:`e2e_coffea.runner.run` (imported lazily,
    so ``import e2e_coffea`` stays cheap on workers)."""
    from .runner import run as _run

    return _run(fileset, taggers, **kwargs)


__all__ += ["run"]
