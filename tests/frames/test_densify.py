"""densify: every e2e image, equal to per-event loops over the hits (bitwise)."""

from __future__ import annotations

import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.exceptions import BadInputError
from e2e_coffea.frames import CHANNELS
from e2e_coffea.io.densify import densify
from e2e_coffea.layouts import E2E_IMAGES


def test_densify_matches_loop_reference(ref, make):
    chunk = make.chunk(np.random.default_rng(11), [[(20, 3)], [], [(0, 71), (55, 0)]])
    imgs = densify(chunk)
    assert list(imgs) == list(E2E_IMAGES)
    for name, spec in E2E_IMAGES.items():
        assert imgs[name].shape == (3, spec.shape[0] * spec.shape[1])
        assert imgs[name].dtype == np.float32
    by_branch = {s.e2e_branch: name for name, s in CHANNELS.items()}
    for e in range(3):
        for branch, channel in by_branch.items():
            expected = ref.image(chunk, e, channel).reshape(-1)
            np.testing.assert_array_equal(imgs[branch][e], expected, err_msg=f"{branch} event {e}")


def test_track_sums_keep_hit_order(make):
    chunk = make.chunk(np.random.default_rng(12), [[(20, 3)]])
    imgs = densify(chunk)
    rows = chunk["Track_row"][0].to_numpy().astype(int)
    cols = chunk["Track_col"][0].to_numpy().astype(int)
    pts = chunk["Track_pt"][0].to_numpy()
    cell = rows[0] * 360 + cols[0]  # the conftest puts tracks 0..2 in one cell
    expect = np.float32(np.float32(np.float32(0) + pts[0]) + pts[1]) + pts[2]
    assert imgs["ECAL_tracksPt_atECALfixIP"][0, cell] == expect
    assert imgs["ECAL_tracksPt_atECALfixIP"][0].sum() == pytest.approx(
        pts[rows >= 0].sum(), rel=1e-5
    )


def test_eb_images_are_the_barrel_rows(make):
    chunk = make.chunk(np.random.default_rng(13), [[(30, 30)]], n_ecal=300)
    imgs = densify(chunk)
    ecal = imgs["ECAL_energy"].reshape(-1, *geo.ECAL_SHAPE)
    eb = imgs["EB_energy"].reshape(-1, *geo.EB_SHAPE)
    np.testing.assert_array_equal(eb, ecal[:, 55:225])


def test_hits_outside_grid_rejected(make):
    chunk = make.chunk(np.random.default_rng(14), [[(20, 3)]])
    chunk["EcalHit_col"] = chunk["EcalHit_col"] + np.int16(400)
    with pytest.raises(BadInputError, match="EcalHit hit 0 of entry 0"):
        densify(chunk)


def test_empty_chunk(make):
    imgs = densify(make.empty())
    assert all(v.shape[0] == 0 for v in imgs.values())
