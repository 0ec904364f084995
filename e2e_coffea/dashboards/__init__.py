"""Widget dashboards for JupyterLab and Voila: composite event images and run performance.

They only read outputs (a run folder, an output dict, frames in memory); live mode is fed
chunk outputs as they arrive, so nothing here depends on how the run was executed.
``composite`` needs only matplotlib; the widgets need ``ipywidgets`` (the ``dashboard``
extra) and are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .composite import (
    LAYERS,
    Box,
    Layer,
    composite_figure,
    composite_png,
    layer_status,
    render_composite,
)

__all__ = [
    "LAYERS",
    "Box",
    "EventDisplay",
    "JetTable",
    "Layer",
    "PerformanceDashboard",
    "composite_figure",
    "composite_png",
    "event_images",
    "layer_status",
    "render_composite",
]

_LAZY = {
    "EventDisplay": ".event_display",
    "JetTable": ".jets",
    "PerformanceDashboard": ".performance",
    "event_images": ".event_images",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
