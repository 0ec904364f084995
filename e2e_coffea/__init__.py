"""e2e-coffea: end-to-end deep-learning reconstruction for coffea, Dask and JupyterLab.

The package reads top to bottom as the data flows:
files (:mod:`io`, :mod:`sim`) -> hits -> frames (:mod:`frames`) -> tensors ->
scores (:mod:`models`, :mod:`inference`) -> hists -> dashboards.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
