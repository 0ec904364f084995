from __future__ import annotations

import io
import math

import numpy as np
import pytest
from matplotlib.image import imread

from e2e_coffea.dashboards.composite import (
    LAYERS,
    MIN_ALPHA,
    Box,
    composite_figure,
    composite_png,
    layer_status,
    render_composite,
)
from e2e_coffea.exceptions import BadInputError

CHANNELS = ("track_pt", "ecal", "hcal", "bpix1", "bpix2", "tib1", "tob1")
BY_NAME = {layer.name: layer for layer in LAYERS}


def _reference(frames, channels, visible=None, opacity=None, decades=3.0):
    """Pixel by pixel: sum each layer's channels, log intensity, 'over' from bottom to top."""
    _c, h, w = frames.shape
    out = np.zeros((h, w, 4))
    for r in range(h):
        for col in range(w):
            rgb, a = np.zeros(3), 0.0
            for layer in LAYERS:
                idx = [channels.index(ch) for ch in layer.channels if ch in channels]
                if not idx or (visible is not None and layer.name not in visible):
                    continue
                vmax = float(frames[idx].sum(0).max())
                v = float(sum(frames[i, r, col] for i in idx))
                if v <= 0 or vmax <= 0:
                    continue
                t = min(max((math.log10(v / vmax) + decades) / decades, 0.0), 1.0)
                la = (MIN_ALPHA + (1 - MIN_ALPHA) * t) * (opacity or {}).get(layer.name, 1.0)
                rgb = np.array(layer.rgb) * la + rgb * (1 - la)  # premultiplied
                a = la + a * (1 - la)
            if a > 0:
                out[r, col, :3] = rgb / a
            out[r, col, 3] = a
    return out


def _frames(seed=0, shape=(12, 10)):
    rng = np.random.default_rng(seed)
    f = rng.exponential(1.0, size=(len(CHANNELS), *shape)).astype(np.float32)
    f[rng.random(f.shape) < 0.6] = 0.0  # mostly empty, like a real frame
    return f


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_the_pixel_by_pixel_reference(seed):
    f = _frames(seed)
    visible = {"ecal", "hcal", "bpix", "tracks"} if seed else None
    opacity = {"ecal": 0.5, "tracks": 0.8} if seed else None
    got = render_composite(f, CHANNELS, visible=visible, opacity=opacity)
    np.testing.assert_allclose(got, _reference(f, CHANNELS, visible, opacity), atol=1e-5)


def test_a_lone_layer_pixel_has_the_layer_colour_and_log_opacity():
    f = np.zeros((len(CHANNELS), 4, 4), np.float32)
    ecal = CHANNELS.index("ecal")
    f[ecal, 0, 0] = 10.0  # the maximum: opaque
    f[ecal, 1, 1] = 0.1  # two decades below: 1/3 of the way up from MIN_ALPHA
    f[ecal, 2, 2] = 1e-5  # beyond the 3 decades: the floor
    img = render_composite(f, CHANNELS)
    np.testing.assert_allclose(img[0, 0], [*BY_NAME["ecal"].rgb, 1.0], atol=1e-6)
    assert img[1, 1, 3] == pytest.approx(MIN_ALPHA + (1 - MIN_ALPHA) / 3, abs=1e-6)
    assert img[2, 2, 3] == pytest.approx(MIN_ALPHA)
    assert img[3, 3, 3] == 0.0  # empty pixels are transparent, not "zero energy" coloured
    half = render_composite(f, CHANNELS, opacity={"ecal": 0.5})
    assert half[0, 0, 3] == pytest.approx(0.5)


def test_tracker_layers_sum_their_channels():
    f = np.zeros((len(CHANNELS), 2, 2), np.float32)
    f[CHANNELS.index("bpix1"), 0, 0] = 1
    f[CHANNELS.index("bpix2"), 0, 0] = 1
    f[CHANNELS.index("bpix2"), 1, 1] = 1
    img = render_composite(f, CHANNELS, visible={"bpix"})
    assert img[0, 0, 3] == pytest.approx(1.0)  # 2 hits = the layer maximum
    assert img[1, 1, 3] == pytest.approx(MIN_ALPHA + (1 - MIN_ALPHA) * (1 - math.log10(2) / 3))


def test_layer_status_marks_missing_layers_absent_not_zero():
    status = layer_status(("track_pt", "ecal", "hcal", "bpix1", "bpix2", "bpix3"))
    assert status == {
        "hcal": "present",
        "ecal": "present",
        "tob": "absent",
        "tib": "absent",
        "bpix": "partial",
        "tracks": "present",
    }
    assert layer_status(CHANNELS, absent=("ecal",))["ecal"] == "absent"


def _legend_texts(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_legend_lists_absent_hidden_and_partial_layers():
    chans = ("track_pt", "ecal", "hcal", "bpix1")
    f = np.ones((4, 5, 5), np.float32)
    texts = _legend_texts(composite_figure(f, chans, visible={"ecal", "hcal", "bpix"}))
    assert "TOB hits (absent)" in texts
    assert "TIB hits (absent)" in texts
    assert "Track pT (hidden)" in texts
    assert any(t.startswith("BPIX hits (max 1 hits), no bpix2/bpix3/bpix4") for t in texts)
    assert any(t.startswith("ECAL (max 1 GeV)") for t in texts)


def _png_rgb(png):
    return (imread(io.BytesIO(png))[..., :3] * 255).round()


def _count_near(rgb, colour, tol=12.0):
    target = np.array(colour) * 255
    return int((np.linalg.norm(rgb - target, axis=-1) < tol).sum())


def test_hiding_a_layer_removes_its_colour_from_the_png():
    f = _frames(3, shape=(40, 40))
    on = _png_rgb(composite_png(f, CHANNELS))
    off = _png_rgb(composite_png(f, CHANNELS, visible={"hcal", "tracks", "bpix", "tib", "tob"}))
    ecal = BY_NAME["ecal"].rgb
    assert _count_near(on, ecal) > 20  # opaque ECAL pixels and the legend patch
    assert _count_near(off, ecal) == 0
    assert _count_near(off, BY_NAME["hcal"].rgb) > 0  # the other layers are still drawn


def test_boxes_wrap_around_the_phi_seam():
    f = np.zeros((len(CHANNELS), 20, 36), np.float32)
    fig = composite_figure(f, CHANNELS, boxes=[Box(2, 30, 10, highlight=True)])
    rects = fig.axes[0].patches
    assert len(rects) == 2  # columns 30..35 and, wrapped, 0..3
    assert sorted(r.get_x() + 0.5 for r in rects) == [-6.0, 30.0]


def test_bad_inputs_say_what_was_expected():
    f = _frames()
    with pytest.raises(BadInputError, match=r"7 channels but 2 channel names"):
        render_composite(f, ("ecal", "hcal"))
    with pytest.raises(BadInputError, match=r"\(C, H, W\)"):
        render_composite(f[0], CHANNELS)
    with pytest.raises(BadInputError, match="unknown layer"):
        render_composite(f, CHANNELS, visible={"muons"})
    with pytest.raises(BadInputError, match=r"opacities must be in \[0, 1\]"):
        render_composite(f, CHANNELS, opacity={"ecal": 1.5})
