"""Nothing is lost silently: unreadable files stop the run or are listed with their reason,
configuration errors stop it before any chunk runs, and a resumed run equals a clean one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.exceptions import MissingBranchError, RunFailedError
from e2e_coffea.io import load_fileset
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run

CHUNKSIZE = 15


def _truncated(src: Path, dst: Path, fraction: float = 0.3) -> Path:
    """The first 30% of a file: its tree header still opens, its baskets are gone."""
    dst.write_bytes(src.read_bytes()[: int(src.stat().st_size * fraction)])
    return dst


@pytest.fixture
def bad_files(sample: Any, tmp_path: Path) -> dict[str, Path]:
    return {
        "truncated": _truncated(sample.files[("qcd", "sparse")], tmp_path / "truncated.root"),
        "missing": tmp_path / "does_not_exist.root",
        "good": sample.files[("tau", "sparse")],
    }


class _Guard(E2ETaggerProcessor):
    """Any chunk reaching ``process`` fails the test: errors must come before."""

    def process(self, events: Any) -> dict[str, Any]:
        msg = f"a chunk ran: {events.metadata}"
        raise AssertionError(msg)


@pytest.mark.parametrize("which", ["missing", "truncated"])
def test_bad_file_stops_the_run_and_names_it(
    bad_files: dict[str, Path], jet_tagger: Path, fileset_writer: Any, tmp_path: Path, which: str
) -> None:
    fs = fileset_writer(
        tmp_path / "fs.json",
        {"tau": {str(bad_files["good"]): "Events"}, "qcd": {str(bad_files[which]): "Events"}},
    )
    with pytest.raises(RunFailedError) as info:
        run(fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False)
    assert str(bad_files[which]) in str(info.value)
    assert str(bad_files["good"]) not in str(info.value)


def test_skip_bad_files_lists_exactly_what_was_skipped(
    bad_files: dict[str, Path],
    jet_tagger: Path,
    sample: Any,
    clean: Any,
) -> None:
    good, trunc, missing = (str(bad_files[k]) for k in ("good", "truncated", "missing"))
    meta = {ds: e["metadata"] for ds, e in load_fileset(sample.fileset["sparse"]).items()}
    fs = {  # the clean run's metadata (cross-sections): the same weights
        "tau": {"files": {good: "Events"}, "metadata": meta["tau"]},
        "qcd": {"files": {trunc: "Events", missing: "Events"}, "metadata": meta["qcd"]},
    }
    result = run(
        fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False, skip_bad_files=True
    )
    assert {f.file for f in result.failed} == {trunc, missing}
    by_file: dict[str, list[Any]] = {}
    for f in result.failed:
        by_file.setdefault(f.file, []).append(f)
    # the missing file: one entry, the whole file, with the OS's reason
    (miss,) = by_file[missing]
    assert (miss.entry_start, miss.entry_stop) == (None, None)
    assert miss.reason == "no such file"
    # the truncated file's tree says 40 entries, but the preflight found it cut short:
    # one failure covers 0..40, with the truncation as its reason
    (cut,) = by_file[trunc]
    assert (cut.entry_start, cut.entry_stop) == (0, 40)
    assert cut.reason.startswith("truncated: ")
    assert result.expected == {good: 40, trunc: 40}
    assert result.processed + result.failed_entries == sum(result.expected.values())
    assert result.processed == result.expected[good] == 40
    assert not result.complete
    assert result.output["entries"] == {"tau": 40}  # no qcd file could be read: none ran
    assert result.lost_datasets() == ["qcd"]
    # what did run is right: the tau jets' scores equal the clean run's
    got, ref = result.output["hists"]["score"], clean.output["hists"]["score"]
    assert list(got.axes["dataset"]) == ["tau"]
    for lab in ref.axes["label"]:
        want = ref[{"dataset": "tau", "tagger": "jet_simplenet", "label": lab}].values()
        have = (
            got[{"dataset": "tau", "tagger": "jet_simplenet", "label": lab}].values()
            if lab in list(got.axes["label"])
            else 0 * want
        )
        assert (have == want).all(), lab


def test_missing_branch_fails_before_any_chunk(
    sample: Any,
    jet_tagger: Path,
    eg_tagger: Path,
    rewrite: Any,
    fileset_writer: Any,
    tmp_path: Path,
) -> None:
    no_tracks = rewrite(
        sample.files[("qcd", "sparse")], tmp_path / "no_tracks.root", drop=("Track",)
    )
    fs = fileset_writer(
        tmp_path / "fs.json",
        {
            "tau": {str(sample.files[("tau", "sparse")]): "Events"},
            "qcd": {str(no_tracks): "Events"},
        },
    )
    # the jet tagger's qg channels need Track_pt/row/col; skip_bad_files does not hide it
    for skip in (False, True):
        with pytest.raises(MissingBranchError, match=r"no_tracks\.root.*Track_(row|col|pt)"):
            run(
                fs,
                [jet_tagger],
                chunksize=CHUNKSIZE,
                device="cpu",
                progress=False,
                skip_bad_files=skip,
                processor=_Guard,
            )
    # the e/gamma tagger reads no tracks: the same file is fine for it
    ok = run(fs, [eg_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False)
    assert ok.complete


def test_fileset_naming_the_wrong_tree_fails_before_any_chunk(
    sample: Any,
    jet_tagger: Path,
    fileset_writer: Any,
    tmp_path: Path,
) -> None:
    sparse = str(sample.files[("tau", "sparse")])
    fs = fileset_writer(tmp_path / "fs.json", {"tau": {sparse: "fevt/RHTree"}})
    with pytest.raises(MissingBranchError, match=r"tau_000\.sparse\.root.*fevt/RHTree.*Events"):
        run(
            fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False,
            skip_bad_files=True, processor=_Guard,
        )  # fmt: skip


def test_resume_from_checkpoints_equals_a_clean_run(
    sample: Any,
    jet_tagger: Path,
    eg_tagger: Path,
    clean: Any,
    hists_equal: Any,
    tmp_path: Path,
) -> None:
    marker, calls = tmp_path / "failed-once", tmp_path / "calls.txt"
    victim = str(sample.files[("qcd", "sparse")])

    class FailsOnce(E2ETaggerProcessor):
        """Logs every chunk it processes; the first attempt at qcd's first chunk fails."""

        def process(self, events: Any) -> dict[str, Any]:
            meta = events.metadata
            with open(calls, "a") as f:
                f.write(f"{meta['filename']}:{meta['entrystart']}\n")
            if meta["filename"] == victim and meta["entrystart"] == 0 and not marker.exists():
                marker.touch()
                msg = "injected read failure"
                raise OSError(msg)
            return super().process(events)

    ckpt = tmp_path / "ckpt"
    kw: dict[str, Any] = {
        "chunksize": CHUNKSIZE,
        "device": "cpu",
        "progress": False,
        "checkpoint_dir": ckpt,
        "processor": FailsOnce,
    }
    first = run(sample.fileset["sparse"], [jet_tagger, eg_tagger], skip_bad_files=True, **kw)
    (failure,) = first.failed
    assert failure.file == victim
    assert failure.entry_start == 0
    assert failure.entry_stop is not None
    assert "injected read failure" in failure.reason
    assert first.processed == 80 - failure.entry_stop
    saved = [json.loads(p.read_text()) for p in sorted((ckpt / "manifest").glob("*.json"))]
    assert len(saved) == 5  # every chunk but the failed one
    assert (victim, 0) not in {(e["file"], e["entrystart"]) for e in saved}
    assert len(list((ckpt / "chunks").glob("*.zip"))) == 5
    # lose one more checkpoint: the rerun must redo exactly those two chunks
    (ckpt / "chunks" / saved[0]["data"]).unlink()
    calls.unlink()
    second = run(sample.fileset["sparse"], [jet_tagger, eg_tagger], **kw)
    redone = calls.read_text().split()
    assert len(redone) == 2
    assert f"{victim}:0" in redone
    assert second.complete
    assert second.failed == []
    assert hists_equal(second.output["hists"], clean.output["hists"])
    assert second.output["cutflow"] == clean.output["cutflow"]
    assert set(second.output["chunks"]) == set(clean.output["chunks"])
    # a third run needs nothing: all six chunks come from checkpoints
    calls.unlink()
    third = run(sample.fileset["sparse"], [jet_tagger, eg_tagger], **kw)
    assert not calls.exists()
    assert hists_equal(third.output["hists"], clean.output["hists"])


@pytest.mark.parametrize("retries", [0, 1])
def test_retries_are_honoured(sample: Any, jet_tagger: Path, tmp_path: Path, retries: int) -> None:
    attempts = tmp_path / "attempts.txt"
    victim = str(sample.files[("tau", "sparse")])

    class FailsOnce(E2ETaggerProcessor):
        def process(self, events: Any) -> dict[str, Any]:
            if events.metadata["filename"] == victim and events.metadata["entrystart"] == 0:
                with open(attempts, "a") as f:
                    f.write("x")
                if attempts.read_text() == "x":
                    msg = "flaky read"
                    raise OSError(msg)
            return super().process(events)

    kw: dict[str, Any] = {
        "chunksize": CHUNKSIZE,
        "device": "cpu",
        "progress": False,
        "retries": retries,
        "processor": FailsOnce,
    }
    if retries == 0:  # one attempt only: the flaky chunk stops the run, naming it
        with pytest.raises(RunFailedError, match=r"tau_000\.sparse\.root.*flaky read"):
            run(sample.fileset["sparse"], [jet_tagger], **kw)
        assert attempts.read_text() == "x"
    else:
        result = run(sample.fileset["sparse"], [jet_tagger], **kw)
        assert result.complete
        assert attempts.read_text() == "xx"
