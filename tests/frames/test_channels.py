"""Channel registry and presets are consistent with the layouts."""

from __future__ import annotations

import pytest

from e2e_coffea.frames import CHANNELS, PRESETS, required_branches, resolve_channels
from e2e_coffea.layouts import E2E_IMAGES, SPARSE_COLLECTIONS


@pytest.mark.parametrize("name", list(CHANNELS))
def test_every_channel_maps_to_both_layouts(name):
    spec = CHANNELS[name]
    assert spec.e2e_branch in E2E_IMAGES
    fields = SPARSE_COLLECTIONS[spec.sparse_collection]
    for f in (
        spec.sparse_row,
        spec.sparse_col,
        spec.sparse_value,
        "layer" if spec.sparse_layer is not None else None,
    ):
        assert f is None or f in fields


def test_presets_in_literature_order():
    assert PRESETS["qg"].channels == ("track_pt", "ecal", "hcal")
    assert PRESETS["top8"].channels == (
        "track_pt",
        "track_d0",
        "track_dz",
        "ecal",
        "hcal",
        "bpix1",
        "bpix2",
        "bpix3",
    )
    assert PRESETS["tau13"].channels[:5] == (
        "track_pt",
        "track_dzsig",
        "track_d0sig",
        "ecal",
        "hcal",
    )
    assert len(PRESETS["tau13"].channels) == 13
    assert PRESETS["eg"].frame == "eg"
    for p in PRESETS.values():
        assert "arXiv" in p.source or "MLAnalyzer" in p.source


def test_user_order_kept_and_required_branches():
    assert [s.name for s in resolve_channels(["hcal", "ecal", "bpix2"])] == [
        "hcal",
        "ecal",
        "bpix2",
    ]
    assert [s.name for s in resolve_channels("ecal")] == ["ecal"]
    assert required_branches("qg", "e2e") == [
        "ECAL_tracksPt_atECALfixIP",
        "ECAL_energy",
        "HBHE_energy",
    ]
    assert required_branches(["bpix1", "tob2"], "sparse") == [
        "TrackerHit_row",
        "TrackerHit_col",
        "TrackerHit_layer",
    ]
