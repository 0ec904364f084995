from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea.dashboards.event_images import available_channels, event_images, to_ecal_grid
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import build_jet_frames, list_channels
from e2e_coffea.frames.jets import jet_windows
from e2e_coffea.io import read_arrays

CHANNELS = [c for c in list_channels() if c != "eb_time"] + ["eb_time"]


@pytest.fixture(scope="module")
def chunks(sample):
    return {
        lay: read_arrays(sample.files[("tau", lay)], layout=lay, entry_stop=6)
        for lay in ("sparse", "e2e")
    }


def test_both_layouts_give_the_same_event_images(chunks):
    for event in range(3):
        a = event_images(chunks["sparse"], "sparse", CHANNELS, event)
        b = event_images(chunks["e2e"], "e2e", CHANNELS, event)
        assert a.shape == (len(CHANNELS), 280, 360)
        np.testing.assert_array_equal(a, b)


def test_jet_windows_of_the_event_image_are_the_jet_frames(chunks):
    """Cropping the whole-event picture at a jet's window gives that jet's frame."""
    chans = ["track_pt", "ecal", "hcal", "bpix1", "tob2"]
    frames, rec = build_jet_frames(chunks["sparse"], layout="sparse", channels=chans)
    r0, c0 = jet_windows(rec.seed_row, rec.seed_col)
    checked = 0
    for k in np.flatnonzero(rec.in_frame)[:6]:
        full = event_images(chunks["sparse"], "sparse", chans, int(rec.event[k]))
        cols = (c0[k] + np.arange(125)) % 360
        crop = full[:, r0[k] : r0[k] + 125][:, :, cols]
        np.testing.assert_allclose(crop, frames[k], rtol=1e-6, atol=1e-9)
        checked += 1
    assert checked > 0


def test_hcal_spread_conserves_energy_and_eb_sits_on_its_rows(chunks):
    import awkward as ak

    c = chunks["sparse"]
    full = event_images(c, "sparse", ["hcal", "eb_energy", "ecal"], 0)
    assert full[0].sum() == pytest.approx(float(ak.sum(c["HcalHit_energy"][0])), rel=1e-5)
    eb = full[1]
    assert not eb[:55].any()
    assert not eb[225:].any()
    np.testing.assert_array_equal(eb[55:225], full[2][55:225])  # EB is ECAL's barrel
    plane = np.arange(56 * 72, dtype=np.float32).reshape(56, 72)
    np.testing.assert_allclose(
        to_ecal_grid(plane, "hcal")[5:10, 10:15], plane[1, 2] / 25, rtol=1e-6
    )


def test_available_channels_reports_what_a_file_lacks(chunks):
    fields = [f for f in chunks["sparse"].fields if not f.startswith("TrackerHit")]
    ok, missing = available_channels(
        dict.fromkeys(fields), "sparse", ["ecal", "bpix1", "tob2", "hcal"]
    )
    assert ok == ["ecal", "hcal"]
    assert missing == ["bpix1", "tob2"]


def test_bad_requests(chunks):
    with pytest.raises(BadInputError, match=r"event 99 is not in the chunk \(it holds 6 events\)"):
        event_images(chunks["sparse"], "sparse", ["ecal"], 99)
    with pytest.raises(BadInputError, match="unknown channel"):
        event_images(chunks["sparse"], "sparse", ["muons"], 0)
    with pytest.raises(BadInputError, match="unknown layout"):
        event_images(chunks["sparse"], "nano", ["ecal"], 0)
