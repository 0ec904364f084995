from __future__ import annotations

import io

import hist
import numpy as np
import pytest
from matplotlib.image import imread

from e2e_coffea.dashboards import LAYERS, EventDisplay
from e2e_coffea.dashboards.jets import load_jets
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import build_jet_frames
from e2e_coffea.io import read_arrays

BY_NAME = {layer.name: layer for layer in LAYERS}
CHANNELS = ("track_pt", "ecal", "hcal", "bpix1", "bpix2", "bpix3", "bpix4")


def _rgb(img_widget):
    return (imread(io.BytesIO(bytes(img_widget.value)))[..., :3] * 255).round()


def _near(rgb, colour, tol=12.0):
    return int((np.linalg.norm(rgb - np.array(colour) * 255, axis=-1) < tol).sum())


@pytest.fixture(scope="module")
def synthetic():
    """Eight jets of two datasets with known labels, pT and scores."""
    rng = np.random.default_rng(5)
    n = 8
    frames = rng.exponential(1.0, (n, len(CHANNELS), 125, 125)).astype(np.float32)
    frames[rng.random(frames.shape) < 0.9] = 0
    records = {
        "pt": np.linspace(20, 90, n),
        "eta": np.zeros(n),
        "phi": np.zeros(n),
        "label": np.array([2, 0, 2, 1, 2, 0, 1, 2]),
        "event": np.arange(n),
        "jet": np.zeros(n, int),
        "ieta": np.full(n, 28),
        "iphi": np.arange(n) * 9,
    }
    scores = {"tagger_a": np.array([0.9, 0.1, 0.8, 0.3, 0.55, 0.2, 0.45, 0.95])}
    datasets = ["tau", "qcd"] * 4
    return frames, records, scores, datasets


def make(synthetic, **kw):
    frames, records, scores, datasets = synthetic
    return EventDisplay(frames, records, CHANNELS, scores=scores, dataset=datasets, **kw)


def test_selectors_filter_like_a_slow_reference(synthetic):
    _, records, scores, datasets = synthetic
    d = make(synthetic)
    labels = ["tau", "quark", "tau", "gluon", "tau", "quark", "gluon", "tau"]
    d.dataset.value = "tau"
    d.label.value = "tau"
    d.score_range.value = (0.5, 1.0)
    d.pt_range.value = (25.0, 90.0)
    want = [
        i
        for i in range(8)
        if datasets[i] == "tau"
        and labels[i] == "tau"
        and 0.5 <= scores["tagger_a"][i] <= 1.0
        and 25.0 <= records["pt"][i] <= 90.0
    ]
    assert list(d.selection) == want
    assert d.current == want[0]
    assert f"<b>{len(want)}</b> of 8 jets" in d.count.value


def test_changing_the_jet_selector_changes_the_image_and_info(synthetic):
    d = make(synthetic)
    before, info = bytes(d.image.value), d.info.value
    d.next_button.click()
    assert d.current == 1
    assert bytes(d.image.value) != before
    assert d.info.value != info
    assert "0.1000" in d.info.value
    d.prev_button.click()
    d.prev_button.click()  # wraps to the last jet
    assert d.current == 7


def test_toggling_a_layer_removes_its_colour(synthetic):
    d = make(synthetic)
    ecal = BY_NAME["ecal"].rgb
    assert _near(_rgb(d.image), ecal) > 0
    d.layer_toggles["ecal"].value = False
    assert _near(_rgb(d.image), ecal) == 0
    assert _near(_rgb(d.image), BY_NAME["tracks"].rgb) > 0  # the others stay
    d.layer_toggles["ecal"].value = True
    picture = slice(0, 380)  # columns of the image; the legend starts at 6.6 - 2.75 in = 385 px
    assert _near(_rgb(d.image)[:, picture], ecal) > 0
    d.layer_opacity["ecal"].value = 0.0
    assert _near(_rgb(d.image)[:, picture], ecal) == 0
    assert _near(_rgb(d.image), ecal) > 0  # transparent, not hidden: its legend patch stays


def test_absent_layers_are_disabled_and_named(synthetic):
    d = make(synthetic)
    for name in ("tib", "tob"):
        assert d.layer_toggles[name].disabled
        assert d.layer_toggles[name].description.endswith("(absent)")
    assert not d.layer_toggles["bpix"].disabled


def test_score_range_under_the_histogram_selects_and_redraws(synthetic):
    d = make(synthetic)
    hist_before = bytes(d.histogram.value)
    d.score_range.value = (0.0, 0.25)
    assert list(d.selection) == [1, 5]
    assert bytes(d.histogram.value) != hist_before  # the shaded range moved
    d.score_range.value = (0.96, 1.0)
    assert d.current is None
    assert "no jets" in d.info.value


def test_bad_inputs(synthetic):
    frames, records, _scores, _ = synthetic
    with pytest.raises(BadInputError, match=r"7 channels but 2 names"):
        EventDisplay(frames, records, ("ecal", "hcal"))
    with pytest.raises(BadInputError, match=r"one value per frame \(8\)"):
        EventDisplay(frames, records, CHANNELS, scores={"t": np.zeros(3)})
    with pytest.raises(BadInputError, match=r"records\['pt'\] has shape \(2,\)"):
        EventDisplay(frames, {**records, "pt": np.zeros(2)}, CHANNELS)


# -- from a saved run -----------------------------------------------------------------
@pytest.fixture(scope="module")
def display(saved_run):
    return EventDisplay.from_run(saved_run.dir, saved_run.fileset, saved_run.spec, max_events=40)


def test_scores_on_the_fly_reproduce_the_run(saved_run, display):
    """All 40 events read again: per label, the display's scores fill the run's histogram."""
    t = display.table
    h = saved_run.output["hists"]["score"][{"tagger": saved_run.spec.name, "dataset": sum}]
    for lab in h.axes["label"]:
        mine = hist.Hist(h.axes["score"]).fill(
            np.clip(t.scores[saved_run.spec.name][t.label == lab], 0, 1 - 1e-12)
        )
        np.testing.assert_array_equal(mine.values(), h[{"label": lab}].values())


def test_frames_are_the_raw_display_layers(sample, display):
    t = display.table
    i = int(np.flatnonzero(t.dataset == "tau")[0])
    chunk = read_arrays(sample.files[("tau", "sparse")], layout="sparse", entry_stop=40)
    frames, rec = build_jet_frames(chunk, layout="sparse", channels=list(t.channels))
    k = int(np.flatnonzero((rec.event == t.event[i]) & (rec.index == t.index[i]))[0])
    np.testing.assert_array_equal(t.frames[i], frames[k])
    assert t.absent == ()  # the generated files carry every layer


def test_whole_event_view_outlines_the_jets(display):
    t = display.table
    i = display.current
    boxes = t.windows(i)
    same = np.flatnonzero((t.dataset == t.dataset[i]) & (t.event == t.event[i]))
    assert len(boxes) == len(same)
    assert sum(b.highlight for b in boxes) == 1
    before = bytes(display.event_image.value)
    display.layer_toggles["hcal"].value = False
    assert bytes(display.event_image.value) != before
    display.layer_toggles["hcal"].value = True
    display.dataset.value = "tau"
    assert set(t.dataset[display.selection]) == {"tau"}


def test_from_run_errors_name_the_problem(saved_run, tmp_path, jet_tagger):
    with pytest.raises(BadInputError, match="no run output at"):
        EventDisplay.from_run(tmp_path, saved_run.fileset, jet_tagger)
    import pickle

    out = {k: v for k, v in saved_run.output.items() if k != "hists"}
    (tmp_path / "output.pkl").write_bytes(pickle.dumps(out))
    with pytest.raises(BadInputError, match=r"holds no hists\['score'\]"):
        EventDisplay.from_run(tmp_path, saved_run.fileset, jet_tagger)
    with pytest.raises(BadInputError, match="max_events must be >= 1"):
        load_jets(saved_run.fileset, jet_tagger, max_events=0)
