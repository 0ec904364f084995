"""The jet taggers' effective |eta| acceptance comes from the geometry, and the frames agree."""

from __future__ import annotations

import numpy as np

from e2e_coffea import geometry as geo
from e2e_coffea.frames.objects import object_records
from e2e_coffea.frames.selection import OUTSIDE_ACCEPTANCE, ObjectCuts, select_objects


def _chunk(rows: np.ndarray) -> dict[str, np.ndarray]:
    """One jet per event, seeded at each HCAL row, at the eta of the seed tower's centre."""
    n = len(rows)
    eta = -geo.ETA_MAX + (rows + 0.5) * geo.HCAL_DETA
    return {
        "Jet_seedIeta": rows.reshape(n, 1),
        "Jet_seedIphi": np.full((n, 1), 30),
        "Jet_pt": np.full((n, 1), 50.0),
        "Jet_eta": eta.reshape(n, 1),
    }


def test_acceptance_is_where_the_window_fits_the_grid() -> None:
    rows = np.arange(geo.HCAL_SHAPE[0])
    rec = object_records(_chunk(rows), "sparse", "jet")
    first, last = geo.jet_frame_seed_rows()
    np.testing.assert_array_equal(rec.in_frame, (rows >= first) & (rows <= last))
    assert geo.jet_frame_abs_eta_max() == 1.392  # 16 towers of 0.087 on each side
    inside = np.abs(rec.eta[rec.in_frame])
    assert inside.max() < geo.jet_frame_abs_eta_max()
    assert np.abs(rec.eta[~rec.in_frame]).min() > geo.jet_frame_abs_eta_max() - geo.HCAL_DETA


def test_jets_beyond_are_counted_by_reason_and_the_range_says_so() -> None:
    rows = np.arange(geo.HCAL_SHAPE[0])
    cuts = ObjectCuts()  # |eta| < 2.4 on paper
    sel = select_objects(_chunk(rows), "sparse", "jet", cuts)
    first, last = geo.jet_frame_seed_rows()
    in_cut = np.abs(-geo.ETA_MAX + (rows + 0.5) * geo.HCAL_DETA) < 2.4
    assert sel.reasons[OUTSIDE_ACCEPTANCE] == int((in_cut & ((rows < first) | (rows > last))).sum())
    assert cuts.effective_range("jet")["abs_eta_max"] == 1.392
    assert cuts.effective_range("eg")["abs_eta_max"] == 2.4  # e/gamma crops are zero-padded
    assert ObjectCuts(abs_eta_max=1.0).effective_range("jet")["abs_eta_max"] == 1.0
