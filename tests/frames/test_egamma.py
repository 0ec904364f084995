"""e/gamma 32x32 crops: reference-equal, seed at [15, 15], zero-padded at the EB ends."""

from __future__ import annotations

import awkward as ak
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.frames import build_eg_frames
from e2e_coffea.frames.testing import sparse_to_e2e_chunk
from e2e_coffea.frames.torch_backend import TorchBackend

EG_SEEDS = st.lists(
    st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from([0, 1, 14, 15, 16, 153, 154, 155, 168, 169]), st.integers(0, 169)
            ),
            st.one_of(st.sampled_from([0, 1, 14, 15, 16, 343, 344, 358, 359]), st.integers(0, 359)),
        ),
        max_size=3,
    ),
    min_size=1,
    max_size=3,
)


@given(eg=EG_SEEDS, rng_seed=st.integers(0, 2**32 - 1))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_eg_frames_equal_reference(ref, make, eg, rng_seed):
    seeds = [[((r + 55) // 5, c // 5)] for r, c in (e[0] if e else (100, 100) for e in eg)]
    chunk = make.chunk(np.random.default_rng(rng_seed), seeds, egamma=eg, n_ecal=120, spread=15)
    channels = ["eb_energy", "eb_time", "ecal", "track_pt", "bpix1"]
    expected = ref.eg_frames(chunk, channels)
    for layout, c in (("sparse", chunk), ("e2e", sparse_to_e2e_chunk(chunk))):
        got, rec = build_eg_frames(c, layout=layout, channels=channels)
        np.testing.assert_array_equal(got, expected, err_msg=layout)
        tg, _ = build_eg_frames(
            c, layout=layout, channels=channels, backend=TorchBackend("cpu", native=True)
        )
        np.testing.assert_allclose(tg.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert len(rec) == sum(len(e) for e in eg)


def _chunk_with_eb_hits(make, seed_rc, hits):
    chunk = make.chunk(np.random.default_rng(0), [[(20, 20)]], n_ecal=0, egamma=[[seed_rc]])
    rows = [r + 55 for r, _, _ in hits]
    chunk["EcalHit_row"] = ak.values_astype(ak.Array([rows]), np.int16)
    chunk["EcalHit_col"] = ak.values_astype(ak.Array([[c for _, c, _ in hits]]), np.int16)
    chunk["EcalHit_energy"] = ak.values_astype(ak.Array([[e for _, _, e in hits]]), np.float32)
    chunk["EcalHit_time"] = ak.values_astype(ak.Array([[1.5] * len(hits)]), np.float32)
    return chunk


def test_seed_at_15_15_and_phi_wrap(make):
    chunk = _chunk_with_eb_hits(
        make, (80, 0), [(80, 0, 7.0), (80, 359, 1.0), (96, 16, 2.0), (65, 345, 3.0), (97, 0, 99.0)]
    )
    frames, rec = build_eg_frames(chunk, layout="sparse")
    e = frames[0, 0]
    assert e[15, 15] == 7.0  # seed
    assert e[15, 14] == 1.0  # col 359 wraps to the left of col 0
    assert e[31, 31] == 2.0  # seed + 16 in both directions: last pixel
    assert e[0, 0] == 3.0  # seed - 15 (row 65, col 345)
    assert e.sum() == 13.0  # row 97 = seed + 17 is outside
    assert frames[0, 1, 15, 15] == 1.5  # time channel
    assert rec.in_frame.tolist() == [True]


def test_zero_padding_at_barrel_ends(make):
    low = _chunk_with_eb_hits(make, (0, 100), [(0, 100, 5.0), (16, 100, 4.0)])
    f, rec = build_eg_frames(low, layout="sparse", channels=["eb_energy"])
    assert f[0, 0, :15].sum() == 0  # EB rows -15..-1: padded, not shifted
    assert f[0, 0, 15, 15] == 5.0
    assert f[0, 0, 31, 15] == 4.0
    assert not rec.in_frame[0]
    high = _chunk_with_eb_hits(make, (169, 100), [(169, 100, 5.0), (154, 85, 4.0)])
    f, rec = build_eg_frames(high, layout="sparse", channels=["eb_energy"])
    assert f[0, 0, 16:].sum() == 0  # EB rows 170..185
    assert f[0, 0, 15, 15] == 5.0
    assert f[0, 0, 0, 0] == 4.0
    assert not rec.in_frame[0]
    # an endcap crystal next to the barrel is never part of an EB channel, but is in "ecal"
    edge = _chunk_with_eb_hits(make, (0, 100), [(-1, 100, 6.0)])
    f, _ = build_eg_frames(edge, layout="sparse", channels=["eb_energy", "ecal"])
    assert f[0, 0].sum() == 0
    assert f[0, 1, 14, 15] == 6.0
