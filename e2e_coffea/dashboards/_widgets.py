"""Shared helpers of the widget dashboards: lazy ipywidgets import, placeholder PNGs."""

from __future__ import annotations

from typing import Any

__all__ = ["message_png", "widgets"]


def widgets() -> Any:
    """``ipywidgets``, or an ImportError that says which extra installs it."""
    try:
        import ipywidgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "the dashboards need ipywidgets: pip install 'e2e-coffea[dashboard]'"
        raise ImportError(msg) from err
    return ipywidgets


def message_png(text: str, figsize: tuple[float, float] = (5.0, 1.2)) -> bytes:
    """A small PNG that says why there is no picture (no jets selected, no data yet)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .composite import figure_png

    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="0.3", wrap=True)
    return figure_png(fig)
