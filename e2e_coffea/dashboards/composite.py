"""The composite E2E image: every detector layer of a frame in its own colour, one picture.

Pure functions (numpy + matplotlib's Agg canvas, no pyplot state), so widgets, notebooks
and tests all call the same code. Each layer's pixels get the layer's colour with an
opacity that grows with log10 of the pixel value (a few decades below the layer's
maximum), and the layers are stacked with the "over" operator. A layer whose channels
the file does not have is *absent*: the legend says so, instead of drawing zeros that
would look like an empty detector.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..exceptions import BadInputError

__all__ = [
    "LAYERS",
    "Box",
    "Layer",
    "composite_figure",
    "composite_png",
    "figure_png",
    "layer_status",
    "layer_values",
    "render_composite",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Layer:
    """A display layer: one or more channels summed, shown in one colour."""

    name: str
    label: str
    channels: tuple[str, ...]
    color: str
    unit: str

    @property
    def rgb(self) -> tuple[float, float, float]:
        h = self.color.lstrip("#")
        return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255)


LAYERS: Final[tuple[Layer, ...]] = (
    # bottom to top: broad calorimeter deposits first, sparse hits last, so they stay visible
    Layer("hcal", "HCAL", ("hcal",), "#1f77b4", "GeV"),
    Layer("ecal", "ECAL", ("ecal",), "#2ca02c", "GeV"),
    Layer("tob", "TOB hits", ("tob1", "tob2"), "#9467bd", "hits"),
    Layer("tib", "TIB hits", ("tib1", "tib2"), "#e377c2", "hits"),
    Layer("bpix", "BPIX hits", ("bpix1", "bpix2", "bpix3", "bpix4"), "#ff7f0e", "hits"),
    Layer("tracks", "Track pT", ("track_pt",), "#d62728", "GeV"),
)
"""The composite's layers in drawing order. Channels not listed (d0, dz, times) are not drawn."""

_BY_NAME: Final = {layer.name: layer for layer in LAYERS}
MIN_ALPHA: Final = 0.15
"""Opacity of the faintest drawn pixel, so a hit ``decades`` below the maximum still shows."""


@dataclass(frozen=True)
class Box:
    """A square window outlined on the image, in pixel coordinates of its top-left corner."""

    row0: int
    col0: int
    size: int
    highlight: bool = False


def _check_frames(frames: Any, channels: Sequence[str]) -> FloatArray:
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim != 3:
        msg = f"frames of one object must be (C, H, W), got shape {arr.shape}"
        raise BadInputError(msg)
    if arr.shape[0] != len(channels):
        msg = f"frames have {arr.shape[0]} channels but {len(channels)} channel names were given: {list(channels)}"
        raise BadInputError(msg)
    return arr


def _check_layer_names(names: Iterable[str], what: str) -> None:
    unknown = [n for n in names if n not in _BY_NAME]
    if unknown:
        msg = f"unknown layer(s) {unknown} in {what}; layers are {list(_BY_NAME)}"
        raise BadInputError(msg)


def layer_status(channels: Sequence[str], absent: Collection[str] = ()) -> dict[str, str]:
    """``present``, ``partial`` or ``absent`` per layer, from the channels the frames hold.

    ``absent`` names channels known to be missing from the file; a layer is absent when
    none of its channels are in ``channels``.
    """
    have = set(channels) - set(absent)
    out = {}
    for layer in LAYERS:
        n = sum(c in have for c in layer.channels)
        out[layer.name] = (
            "absent" if n == 0 else ("present" if n == len(layer.channels) else "partial")
        )
    return out


def layer_values(frames: Any, channels: Sequence[str]) -> dict[str, FloatArray]:
    """Per present layer, the (H, W) sum of its channels; absent layers are left out."""
    arr = _check_frames(frames, channels)
    index = {c: i for i, c in enumerate(channels)}
    out = {}
    for layer in LAYERS:
        idx = [index[c] for c in layer.channels if c in index]
        if idx:
            out[layer.name] = arr[idx].sum(axis=0, dtype=np.float32)
    return out


def _intensity(v: FloatArray, vmax: float, decades: float) -> FloatArray:
    """0 for empty pixels, else MIN_ALPHA..1 on a log scale spanning ``decades`` below vmax."""
    out = np.zeros(v.shape, np.float32)
    hot = v > 0
    if vmax <= 0 or not hot.any():
        return out
    t = (np.log10(v[hot] / vmax) + decades) / decades
    out[hot] = MIN_ALPHA + (1 - MIN_ALPHA) * np.clip(t, 0.0, 1.0)
    return out


def render_composite(
    frames: Any,
    channels: Sequence[str],
    *,
    visible: Collection[str] | None = None,
    opacity: Mapping[str, float] | None = None,
    vmax: Mapping[str, float] | None = None,
    decades: float = 3.0,
) -> FloatArray:
    """(H, W, 4) straight-alpha RGBA in [0, 1]: the visible layers stacked bottom to top.

    ``visible``: layer names to draw (default all present); ``opacity``: per layer, 0..1
    (default 1); ``vmax``: per layer, the value drawn fully opaque (default the layer's
    maximum in this frame, so fix it to compare jets). Empty pixels are transparent.
    """
    values = layer_values(frames, channels)
    if visible is not None:
        _check_layer_names(visible, "visible")
    if opacity is not None:
        _check_layer_names(opacity, "opacity")
        bad = {k: v for k, v in opacity.items() if not 0.0 <= v <= 1.0}
        if bad:
            msg = f"opacities must be in [0, 1], got {bad}"
            raise BadInputError(msg)
    if not decades > 0:
        msg = f"decades must be > 0, got {decades}"
        raise BadInputError(msg)
    shape = np.asarray(frames).shape[1:]
    premul = np.zeros((*shape, 3), np.float32)  # premultiplied colour
    alpha = np.zeros(shape, np.float32)
    for layer in LAYERS:
        if layer.name not in values or (visible is not None and layer.name not in visible):
            continue
        v = values[layer.name]
        top = float(vmax[layer.name]) if vmax and layer.name in vmax else float(v.max(initial=0.0))
        a = _intensity(v, top, decades) * float((opacity or {}).get(layer.name, 1.0))
        premul = np.asarray(layer.rgb, np.float32) * a[..., None] + premul * (1 - a[..., None])
        alpha = a + alpha * (1 - a)
    rgba = np.zeros((*shape, 4), np.float32)
    seen = alpha > 0
    rgba[seen, :3] = premul[seen] / alpha[seen, None]
    rgba[..., 3] = alpha
    return rgba


def _legend_handles(
    values: Mapping[str, FloatArray],
    status: Mapping[str, str],
    visible: Collection[str] | None,
    channels: Sequence[str],
) -> list[Any]:
    from matplotlib.patches import Patch

    handles = []
    for layer in reversed(LAYERS):  # top layer first, like the stacking
        st = status[layer.name]
        if st == "absent":
            handles.append(
                Patch(
                    facecolor="none", edgecolor="0.6", hatch="///", label=f"{layer.label} (absent)"
                )
            )
            continue
        peak = float(values[layer.name].max(initial=0.0))
        text = f"{layer.label} (max {peak:.3g} {layer.unit})"
        if st == "partial":
            missing = [c for c in layer.channels if c not in channels]
            text += f", no {'/'.join(missing)}"
        if visible is not None and layer.name not in visible:
            handles.append(
                Patch(facecolor="none", edgecolor="0.6", label=f"{layer.label} (hidden)")
            )
        else:
            handles.append(Patch(facecolor=layer.color, edgecolor="none", label=text))
    return handles


def _boxes(ax: Any, boxes: Sequence[Box], width: int) -> None:
    """Outline windows; a window crossing the phi seam is drawn on both sides."""
    from matplotlib.patches import Rectangle

    for b in boxes:
        style: dict[str, Any] = {
            "fill": False,
            "edgecolor": "black",
            "linewidth": 2.0 if b.highlight else 0.8,
            "linestyle": "-" if b.highlight else "--",
        }
        for shift in (0, -width, width):
            c0 = b.col0 + shift
            if c0 + b.size <= 0 or c0 >= width:
                continue
            ax.add_patch(Rectangle((c0 - 0.5, b.row0 - 0.5), b.size, b.size, **style))


def composite_figure(
    frames: Any,
    channels: Sequence[str],
    *,
    visible: Collection[str] | None = None,
    opacity: Mapping[str, float] | None = None,
    vmax: Mapping[str, float] | None = None,
    absent: Collection[str] = (),
    decades: float = 3.0,
    title: str = "",
    boxes: Sequence[Box] = (),
    figsize: tuple[float, float] = (6.6, 4.4),
    axis_labels: tuple[str, str] = ("ieta (ECAL pixels)", "iphi (ECAL pixels)"),
) -> Any:
    """A matplotlib Figure (Agg canvas, no pyplot) with the composite and its legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rgba = render_composite(
        frames, channels, visible=visible, opacity=opacity, vmax=vmax, decades=decades
    )
    values = layer_values(frames, channels)
    status = layer_status(channels, absent)
    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    width, height = figsize
    legend_in, left_in, bottom_in, top_in = 2.75, 0.65, 0.5, 0.35  # inches
    ax = fig.add_axes(
        (
            left_in / width,
            bottom_in / height,
            (width - left_in - legend_in - 0.1) / width,
            (height - bottom_in - top_in) / height,
        )
    )
    ax.set_facecolor("white")
    ax.imshow(
        rgba, origin="lower", interpolation="nearest", interpolation_stage="rgba", aspect="equal"
    )
    h, w = rgba.shape[:2]
    _boxes(ax, boxes, w)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(-0.5, h - 0.5)
    ax.set_ylabel(axis_labels[0])
    ax.set_xlabel(axis_labels[1])
    if title:
        ax.set_title(title, fontsize=10)
    fig.legend(
        handles=_legend_handles(values, status, visible, channels),
        loc="center left",
        bbox_to_anchor=((width - legend_in) / width, 0.5),
        fontsize=8,
        frameon=False,
        title=f"log scale, {decades:g} decades",
        title_fontsize=8,
    )
    return fig


def figure_png(fig: Any) -> bytes:
    """PNG bytes of a Figure made by this package."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    return buf.getvalue()


def composite_png(frames: Any, channels: Sequence[str], **kwargs: Any) -> bytes:
    """PNG bytes of :func:`composite_figure`; what the widgets display."""
    return figure_png(composite_figure(frames, channels, **kwargs))
