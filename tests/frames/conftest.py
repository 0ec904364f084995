"""Slow, obviously-correct references and small chunk builders for the frame tests.

The references follow the written convention literally: build the whole event image
with a Python loop over hits (float32 sums in hit order), then cut the window row by
row with explicit zero padding and phi wrap. Exposed as fixtures (``ref``, ``make``)
because ``--import-mode=importlib`` keeps test modules from importing each other.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import awkward as ak
import numpy as np
import pytest

from e2e_coffea import geometry as geo
from e2e_coffea.frames.channels import CHANNELS

ER, EC = geo.ECAL_SHAPE  # 280, 360
HR, HC = geo.HCAL_SHAPE  # 56, 72


# --- chunk builder ---------------------------------------------------------------------
def make_chunk(
    rng: np.random.Generator,
    seeds: list[list[tuple[int, int]]],
    *,
    n_ecal: int = 40,
    n_hcal: int = 10,
    n_tracks: int = 12,
    n_tracker: int = 40,
    egamma: list[list[tuple[int, int]]] | None = None,
    spread: float = 40.0,
) -> ak.Array:
    """Sparse chunk: per event, the given jet seeds and hits scattered around them
    (and at the grid edges); ECAL crystals / HCAL towers unique, tracks and tracker hits
    may share cells (several tracks in one cell on purpose)."""
    d: dict[str, list[Any]] = {}

    def add(name: str, per_event: list[np.ndarray], dtype: Any) -> None:
        d.setdefault(name, []).extend([np.asarray(x, dtype=dtype) for x in per_event])

    for e, jets in enumerate(seeds):
        centres = [(5 * i + 2, 5 * p + 2) for i, p in jets] or [(140, 180)]

        def near(n: int, centres: list[tuple[int, int]] = centres) -> tuple[np.ndarray, np.ndarray]:
            k = rng.integers(0, len(centres), n)
            cr = np.array([centres[x][0] for x in k], dtype=float)
            cc = np.array([centres[x][1] for x in k], dtype=float)
            r = np.clip(np.rint(cr + rng.normal(0, spread, n)), 0, ER - 1).astype(int)
            c = np.rint(cc + rng.normal(0, spread, n)).astype(int) % EC
            edge = rng.random(n) < 0.15  # rows 0/279 and cols 0/359 on purpose
            r[edge] = rng.choice([0, 1, ER - 2, ER - 1], int(edge.sum()))
            edgec = rng.random(n) < 0.15
            c[edgec] = rng.choice([0, 1, EC - 2, EC - 1], int(edgec.sum()))
            return r, c

        r, c = near(n_ecal)
        cells = np.unique(r * EC + c)
        rng.shuffle(cells)
        add("EcalHit_row", [cells // EC], np.int16)
        add("EcalHit_col", [cells % EC], np.int16)
        add("EcalHit_energy", [rng.exponential(1.0, len(cells))], np.float32)
        add("EcalHit_time", [rng.normal(0, 2.0, len(cells))], np.float32)

        r, c = near(n_hcal)
        towers = np.unique((r // 5) * HC + c // 5)
        rng.shuffle(towers)
        add("HcalHit_ieta", [towers // HC], np.int16)
        add("HcalHit_iphi", [towers % HC], np.int16)
        add("HcalHit_energy", [rng.exponential(3.0, len(towers))], np.float32)

        r, c = near(n_tracks)
        if n_tracks >= 4:  # three tracks in one cell: the sums must keep hit order
            r[1:3], c[1:3] = r[0], c[0]
            r[3], c[3] = -1, -1  # misses the ECAL
        add("Track_row", [r], np.int16)
        add("Track_col", [c], np.int16)
        for f, scale in (("pt", 5.0), ("d0", 0.1), ("dz", 1.0), ("d0sig", 3.0), ("dzsig", 3.0)):
            v = rng.exponential(scale, n_tracks) if f == "pt" else rng.normal(0, scale, n_tracks)
            add(f"Track_{f}", [v], np.float32)

        r, c = near(n_tracker)
        add("TrackerHit_row", [r], np.int16)
        add("TrackerHit_col", [c], np.int16)
        add("TrackerHit_layer", [rng.integers(0, 8, n_tracker)], np.int8)

        ie = np.array([s[0] for s in jets], dtype=np.int16)
        ip = np.array([s[1] for s in jets], dtype=np.int16)
        add("Jet_seedIeta", [ie], np.int16)
        add("Jet_seedIphi", [ip], np.int16)
        add("Jet_pt", [rng.exponential(50, len(jets)) + 20], np.float32)
        add(
            "Jet_eta",
            [geo.eta_of_row(5 * ie.astype(int) + 2) + rng.normal(0, 0.03, len(jets))],
            np.float32,
        )
        add(
            "Jet_phi",
            [geo.wrap_phi(geo.phi_of_col(5 * ip.astype(int) + 2) + rng.normal(0, 0.03, len(jets)))],
            np.float32,
        )
        add("Jet_label", [rng.integers(0, 6, len(jets))], np.int32)

        eg = egamma[e] if egamma is not None else []
        add("EGamma_seedRow", [[s[0] for s in eg]], np.int16)
        add("EGamma_seedCol", [[s[1] for s in eg]], np.int16)
        add("EGamma_energy", [rng.exponential(20, len(eg))], np.float32)
        add("EGamma_pt", [rng.exponential(20, len(eg))], np.float32)
        add("EGamma_eta", [geo.eta_of_row(np.array([s[0] for s in eg], int) + 55)], np.float32)
        add("EGamma_label", [rng.integers(3, 5, len(eg))], np.int32)

    if not seeds:
        return _empty_chunk()
    arrays = {}
    for k, v in d.items():
        counts = np.array([len(x) for x in v], dtype=np.int64)
        flat = np.concatenate(v) if v else np.zeros(0)
        arrays[k] = ak.unflatten(flat.astype(v[0].dtype), counts)
    return ak.zip(arrays, depth_limit=1)


def _empty_chunk() -> ak.Array:
    dtypes = {
        "row": np.int16,
        "col": np.int16,
        "ieta": np.int16,
        "iphi": np.int16,
        "layer": np.int8,
        "seedIeta": np.int16,
        "seedIphi": np.int16,
        "seedRow": np.int16,
        "seedCol": np.int16,
        "label": np.int32,
    }
    names = [
        "EcalHit_row",
        "EcalHit_col",
        "EcalHit_energy",
        "EcalHit_time",
        "HcalHit_ieta",
        "HcalHit_iphi",
        "HcalHit_energy",
        "Track_row",
        "Track_col",
        "Track_pt",
        "Track_d0",
        "Track_dz",
        "Track_d0sig",
        "Track_dzsig",
        "TrackerHit_row",
        "TrackerHit_col",
        "TrackerHit_layer",
        "Jet_seedIeta",
        "Jet_seedIphi",
        "Jet_pt",
        "Jet_eta",
        "Jet_phi",
        "Jet_label",
        "EGamma_seedRow",
        "EGamma_seedCol",
        "EGamma_energy",
        "EGamma_pt",
        "EGamma_eta",
        "EGamma_label",
    ]
    return ak.zip(
        {
            n: ak.unflatten(
                np.zeros(0, dtypes.get(n.split("_")[1], np.float32)), np.zeros(0, np.int64)
            )
            for n in names
        },
        depth_limit=1,
    )


# --- references ------------------------------------------------------------------------
def _hits(chunk: ak.Array, e: int, name: str) -> np.ndarray:
    return np.asarray(ak.to_numpy(chunk[name][e]))


def ref_image(chunk: ak.Array, e: int, channel: str) -> np.ndarray:
    """The channel's image of event e on its own grid, by a loop over hits."""
    spec = CHANNELS[channel]
    H, W = {"ecal": geo.ECAL_SHAPE, "eb": geo.EB_SHAPE, "hcal": geo.HCAL_SHAPE}[spec.grid]
    img = np.zeros((H, W), dtype=np.float32)
    coll = spec.sparse_collection
    rows = _hits(chunk, e, f"{coll}_{spec.sparse_row}")
    cols = _hits(chunk, e, f"{coll}_{spec.sparse_col}")
    vals = (
        _hits(chunk, e, f"{coll}_{spec.sparse_value}")
        if spec.sparse_value
        else np.ones(len(rows), np.float32)
    )
    layers = _hits(chunk, e, f"{coll}_layer") if spec.sparse_layer is not None else None
    for h in range(len(rows)):
        r, c = int(rows[h]), int(cols[h])
        if r < 0:
            continue  # track missing the ECAL
        if layers is not None and int(layers[h]) != spec.sparse_layer:
            continue
        if spec.grid == "eb":
            r -= 55
            if not 0 <= r < 170:
                continue
        img[r, c] = np.float32(img[r, c] + np.float32(vals[h]))
    return img


def ref_on_ecal_grid(chunk: ak.Array, e: int, channel: str, smooth: bool = False) -> np.ndarray:
    """The channel as a 280x360 image: HCAL upsampled (tower/25 per crystal), EB placed
    at rows 55..224, ECAL optionally endcap-smoothed."""
    spec = CHANNELS[channel]
    img = ref_image(chunk, e, channel)
    if spec.grid == "hcal":
        big = np.zeros(geo.ECAL_SHAPE, np.float32)
        for r in range(ER):
            for_row = img[r // 5] / np.float32(25)
            big[r] = np.repeat(for_row, 5)
        return big
    if spec.grid == "eb":
        big = np.zeros(geo.ECAL_SHAPE, np.float32)
        big[55:225] = img
        return big
    if smooth and channel == "ecal":
        return ref_smooth(img)
    return img


def ref_smooth(img: np.ndarray) -> np.ndarray:
    """Endcap smoothing exactly as documented: blocks (0), (1,2)..(53,54) and
    (225,226)..(277,278), (279) in rows; (0,1)..(358,359) in columns; each pixel gets
    ((a[lo,clo] + a[lo,chi]) + (a[hi,clo] + a[hi,chi])) / 4 with hi = lo for 1-row blocks."""
    out = img.copy()
    blocks = [(0, 0)] + [(r, r + 1) for r in range(1, 55, 2)]
    blocks += [(r, r + 1) for r in range(225, 279, 2)] + [(279, 279)]
    for lo, hi in blocks:
        for c in range(0, EC, 2):
            s = np.float32(img[lo, c] + img[lo, c + 1]) + np.float32(img[hi, c] + img[hi, c + 1])
            v = np.float32(s) * np.float32(0.25)
            for r in {lo, hi}:
                out[r, c] = v
                out[r, c + 1] = v
    return out


def ref_window(img: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """Rows top..top+size-1 (zero outside the image), columns left.. modulo the width."""
    H, W = img.shape
    out = np.zeros((size, size), img.dtype)
    cols = [(left + k) % W for k in range(size)]
    for i in range(size):
        r = top + i
        if 0 <= r < H:
            out[i] = img[r, cols]
    return out


def ref_jet_frames(chunk: ak.Array, channels: list[str], smooth: bool = False) -> np.ndarray:
    frames = []
    for e in range(len(chunk)):
        imgs = [ref_on_ecal_grid(chunk, e, ch, smooth) for ch in channels]
        for ieta, iphi in zip(
            _hits(chunk, e, "Jet_seedIeta"), _hits(chunk, e, "Jet_seedIphi"), strict=True
        ):
            top, left = 5 * int(ieta) + 2 - 62, 5 * int(iphi) + 2 - 62
            frames.append([ref_window(img, top, left, 125) for img in imgs])
    return np.array(frames, dtype=np.float32).reshape(-1, len(channels), 125, 125)


def ref_eg_frames(chunk: ak.Array, channels: list[str]) -> np.ndarray:
    """EB channels: window on the 170x360 EB image (rows past the barrel are zero);
    ECAL-grid channels: the same window on the 280x360 image (endcap crystals included)."""
    frames = []
    for e in range(len(chunk)):
        imgs = [ref_image(chunk, e, ch) for ch in channels]
        for row, col in zip(
            _hits(chunk, e, "EGamma_seedRow"), _hits(chunk, e, "EGamma_seedCol"), strict=True
        ):
            frames.append(
                [
                    ref_window(
                        img,
                        int(row) - 15 + (55 if CHANNELS[ch].grid == "ecal" else 0),
                        int(col) - 15,
                        32,
                    )
                    for ch, img in zip(channels, imgs, strict=True)
                ]
            )
    return np.array(frames, dtype=np.float32).reshape(-1, len(channels), 32, 32)


def ref_point_cloud(
    chunk: ak.Array, e: int, eta: float, phi: float, radius: float, n_max: int
) -> tuple[np.ndarray, int]:
    """Loop over the event's hits in input order; sort by energy (stable); truncate."""
    pts: list[tuple[float, list[float]]] = []

    def add(kind: int, r: int, c: int, energy: float, d0: float = 0.0, dz: float = 0.0) -> None:
        deta = float(geo.eta_of_row(r)) - eta
        dphi = float(geo.wrap_phi(float(geo.phi_of_col(c)) - phi))
        if deta * deta + dphi * dphi >= radius * radius:
            return
        onehot = [0.0] * 11
        onehot[kind] = 1.0
        loge = math.log(max(energy, 1e-6)) if kind <= 2 else 0.0
        pts.append((energy, [deta, dphi, loge, *onehot, d0, dz]))

    for r, c, en in zip(
        _hits(chunk, e, "EcalHit_row"),
        _hits(chunk, e, "EcalHit_col"),
        _hits(chunk, e, "EcalHit_energy"),
        strict=True,
    ):
        add(0, int(r), int(c), float(en))
    for i, p, en in zip(
        _hits(chunk, e, "HcalHit_ieta"),
        _hits(chunk, e, "HcalHit_iphi"),
        _hits(chunk, e, "HcalHit_energy"),
        strict=True,
    ):
        add(1, 5 * int(i) + 2, 5 * int(p) + 2, float(en))
    for r, c, pt, d0, dz in zip(
        *(_hits(chunk, e, f"Track_{f}") for f in ("row", "col", "pt", "d0", "dz")), strict=True
    ):
        if r >= 0:
            add(2, int(r), int(c), float(pt), float(d0), float(dz))
    layers = _hits(chunk, e, "TrackerHit_layer")
    for layer in range(8):  # input order of the builder: layer by layer
        for r, c, lay in zip(
            _hits(chunk, e, "TrackerHit_row"),
            _hits(chunk, e, "TrackerHit_col"),
            layers,
            strict=True,
        ):
            if int(lay) == layer:
                add(3 + layer, int(r), int(c), 0.0)
    order = sorted(range(len(pts)), key=lambda k: -pts[k][0])  # stable: ties keep input order
    feats = np.zeros((n_max, 16), np.float32)
    for slot, k in enumerate(order[:n_max]):
        feats[slot] = pts[k][1]
    return feats, len(pts)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: torch's thread pool only adds contention on a shared 2-core CI box.
    Restored after each test so other test areas keep their setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ref() -> SimpleNamespace:
    return SimpleNamespace(
        image=ref_image,
        on_ecal_grid=ref_on_ecal_grid,
        smooth=ref_smooth,
        window=ref_window,
        jet_frames=ref_jet_frames,
        eg_frames=ref_eg_frames,
        point_cloud=ref_point_cloud,
    )


@pytest.fixture(scope="session")
def make() -> SimpleNamespace:
    return SimpleNamespace(chunk=make_chunk, empty=_empty_chunk)
