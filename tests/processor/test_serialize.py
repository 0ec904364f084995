"""A run's output saved with ``save_output`` reads back equal, and reading runs no code:
a pickle (or anything else) placed where an output belongs is never unpickled."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import hist
import numpy as np
import pytest

from e2e_coffea.exceptions import OutputFormatError, UnsafeOutputError
from e2e_coffea.processor.booking import (
    MeanImages,
    ValueAxis,
    book_class_hists,
    book_regression_hists,
    book_score_hists,
    fill_class_scores,
    fill_regression,
    fill_scores,
)
from e2e_coffea.processor.serialize import (
    OUTPUT_FILE,
    dumps_output,
    load_output,
    loads_output,
    save_output,
)


class _Payload:
    """Unpickling this writes a marker file: proof that a reader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def _hist_equal(a: hist.Hist, b: hist.Hist) -> bool:
    """Bin by bin with flow bins, same axes (types, names, labels, categories in order)."""
    return (
        type(a) is type(b)
        and a.axes == b.axes
        and [list(ax) for ax in a.axes] == [list(ax) for ax in b.axes]
        and [ax.label for ax in a.axes] == [ax.label for ax in b.axes]
        and [ax.traits for ax in a.axes] == [ax.traits for ax in b.axes]
        and a.storage_type is b.storage_type
        and np.array_equal(a.values(flow=True), b.values(flow=True))
        and np.array_equal(a.variances(flow=True), b.variances(flow=True))
    )


def _assert_same(a: Any, b: Any, where: str = "output") -> None:
    """Deep equality that also checks types (an int must not come back as a float)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, hist.Hist):
        assert _hist_equal(a, b), where
    elif isinstance(a, MeanImages):
        assert a.channels == b.channels, where
        _assert_same(a.sums, b.sums, f"{where}.sums")
        _assert_same(a.counts, b.counts, f"{where}.counts")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        assert a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def _synthetic() -> dict[str, Any]:
    """Every kind of node a run's output holds, with categories grown out of order."""
    rng = np.random.default_rng(7)
    hists = book_score_hists()
    for ds in ("tau", "qcd"):
        for tagger in ("b_tagger", "a_tagger"):
            n = 50
            fill_scores(
                hists, dataset=ds, tagger=tagger, labels=rng.integers(0, 4, n),
                scores=rng.random(n), pt=rng.uniform(0, 1200, n), eta=rng.uniform(-3, 3, n),
                weight=rng.uniform(0.5, 2, n),
            )  # fmt: skip
    hists.update(book_class_hists())
    probs = rng.dirichlet([1, 1, 1], 30)
    fill_class_scores(hists, dataset="tau", tagger="c_tagger", labels=rng.integers(0, 4, 30),
                      probabilities=probs, class_names=("q", "g", "tau"))  # fmt: skip
    hists.update(book_regression_hists("r_tagger", ValueAxis("mass", "GeV", 0.0, 300.0, 30)))
    truth = rng.uniform(-1, 300, 40)
    fill_regression(hists, dataset="tau", tagger="r_tagger", labels=rng.integers(0, 4, 40),
                    values=rng.uniform(0, 320, 40), baseline=np.where(truth > 100, truth, np.nan),
                    truth=truth, true_pt=rng.uniform(0, 2000, 40))  # fmt: skip
    mi = MeanImages(("ecal", "hcal"))
    mi.add(rng.random((6, 2, 5, 5)).astype(np.float32), [1, 2, 1, 1, 2, 3])
    import torch

    mi.add(torch.from_numpy(rng.random((3, 2, 5, 5)).astype(np.float32)), [1, 1, 3])  # pending
    return {
        "entries": {"tau": 40, "qcd": 40},
        "chunks": {"/a/tau.root:0-14": 14, "/a/tau.root:14-27": 13},
        "hists": hists,
        "cutflow": {"tau": {"events": 40, "jet: pt": np.int64(12)}},
        "notes": {"a_tagger": {"missing optional jet x": 3}},
        "mean_images": {"a_tagger": mi},
        "metrics": {
            "chunks": 2, "entries": 27, "objects": 100, "time_read": 0.1 + 0.2,
            "time_frames": float("inf"), "time_inference": float("nan"),
            "device": {"cpu": 1}, "worker": {"pid1": 27}, "ratio": np.float32(1 / 3),
        },
        "misc": [1, (2, "x"), None, True, np.arange(4, dtype=np.uint16)],
    }  # fmt: skip


def test_synthetic_output_round_trips_exactly(tmp_path: Path) -> None:
    out = _synthetic()
    path = save_output(out, tmp_path)
    assert path == tmp_path / OUTPUT_FILE
    assert {"class_score", "value:r_tagger", "response:r_tagger"} <= set(out["hists"])
    back = load_output(tmp_path)
    _assert_same(out, back)
    # category axes keep the order they grew in, not a sorted one
    assert list(back["hists"]["score"].axes["tagger"]) == ["b_tagger", "a_tagger"]
    assert list(back["hists"]["score"].axes["dataset"]) == ["tau", "qcd"]
    # and the loaded objects still merge like the originals
    merged = back["mean_images"]["a_tagger"] + out["mean_images"]["a_tagger"]
    assert merged.counts == {k: 2 * v for k, v in out["mean_images"]["a_tagger"].counts.items()}
    assert (back["hists"]["score"] + out["hists"]["score"]).sum().value == pytest.approx(
        2 * out["hists"]["score"].sum().value
    )


def test_histograms_are_plain_uhi(tmp_path: Path) -> None:
    """Other tools read the histograms with uhi alone: JSON + .npy, no e2e_coffea needed."""
    import uhi.io.zip

    out = _synthetic()
    data = dumps_output(out)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        tree = json.loads(zf.read("tree.json"))
        ref = tree["output"]["hists"]["score"]["ref"]
        h = hist.Hist(hist.serialization.from_uhi(uhi.io.zip.read(zf, ref)))
    assert _hist_equal(h, out["hists"]["score"])


@pytest.mark.parametrize(
    "bad",
    [
        {"x": object()},
        {"x": np.array(["a", "b"])},
        {"x": np.array([object()], dtype=object)},
        {1: "int key"},
        {"__e2e__": "reserved"},
        {"x": {1, 2}},
    ],
    ids=["object", "str-array", "object-array", "int-key", "reserved-key", "set"],
)
def test_what_cannot_be_saved_is_refused_by_name(bad: dict[Any, Any]) -> None:
    with pytest.raises(OutputFormatError, match="cannot save output"):
        dumps_output(bad)


def test_a_pickle_is_never_unpickled_by_default(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "output.pkl").write_bytes(pickle.dumps({"hists": _Payload(marker)}))
    with pytest.raises(UnsafeOutputError) as info:
        load_output(tmp_path)
    assert not marker.exists()
    msg = str(info.value)
    assert "allow_pickle=True" in msg
    assert "output.pkl" in msg
    assert len(msg.splitlines()) == 1
    # a pickle renamed to look like our format is not unpickled either
    (tmp_path / OUTPUT_FILE).write_bytes((tmp_path / "output.pkl").read_bytes())
    with pytest.raises(OutputFormatError):
        load_output(tmp_path)
    assert not marker.exists()
    # the explicit opt-in does read it (and so runs the payload): the danger is real
    (tmp_path / OUTPUT_FILE).unlink()
    assert load_output(tmp_path, allow_pickle=True) == {"hists": 0}  # os.system's exit code
    assert marker.exists()


def _rezip(data: bytes, edit: Any) -> bytes:
    """A copy of a saved output with tree.json edited."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "tree.json":
                doc = json.loads(body)
                edit(doc)
                body = json.dumps(doc).encode()
            dst.writestr(item.filename, body)
    return buf.getvalue()


def _pickled_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_crafted_zips_are_refused_without_running_anything(tmp_path: Path) -> None:
    data = dumps_output({"a": np.arange(3)})
    cases = {
        "unknown node": lambda d: d["output"].update(b={"__e2e__": "pickle", "ref": "x"}),
        "member path": lambda d: d["output"]["a"].update(ref="../../etc/passwd"),
        "object dtype": lambda d: d["output"].update(b={"__e2e__": "scalar", "dtype": "|O", "value": 1}),
        "version": lambda d: d.update(version=99),
        "format": lambda d: d.update(format="other"),
    }  # fmt: skip
    for name, edit in cases.items():
        with pytest.raises(OutputFormatError):
            loads_output(_rezip(data, edit), source=name)
    # an object array (a pickle inside .npy) in place of a numeric one
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item.filename, _pickled_npy() if item.filename.endswith(".npy") else body)
    with pytest.raises(OutputFormatError, match="Python objects"):
        loads_output(buf.getvalue())
    with pytest.raises(OutputFormatError):
        loads_output(b"garbage")


def test_missing_output_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputFormatError, match=str(tmp_path)):
        load_output(tmp_path)


def test_mean_images_still_on_a_device_are_saved_whole() -> None:
    """Sums a GPU holds until ``flush`` are part of what is saved."""
    import torch

    from e2e_coffea.processor.booking import label_names

    frames = np.random.default_rng(3).random((5, 2, 4, 4)).astype(np.float32)
    labels = np.array([1, 1, 3, 1, 3])
    mi = MeanImages(("a", "b"))
    mi.add(torch.from_numpy(frames), labels)
    back = loads_output(dumps_output({"m": mi}))["m"]
    names = label_names(labels)
    assert back.counts == {str(n): int((names == n).sum()) for n in set(names)}
    for n in set(names):
        want = frames[names == n].astype(np.float64).sum(axis=0)
        np.testing.assert_allclose(back.sums[str(n)], want, rtol=1e-12)
