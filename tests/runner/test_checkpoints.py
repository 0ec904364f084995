"""Checkpoints carry the identity of the work and run no code when read: another tagger's
checkpoints are refused, planted or edited files are never used, and a run killed with
SIGKILL resumes to exactly the clean result."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import CheckpointDirError, CheckpointIntegrityError, OutputFormatError
from e2e_coffea.frames.selection import ObjectCuts
from e2e_coffea.io import load_fileset
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.processor.serialize import dumps_output, loads_output
from e2e_coffea.runner import run

CHUNKSIZE = 15
REPO = Path(__file__).parents[2]


class _Payload:
    """Unpickling this creates a marker file: proof that a reader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def tau_only(sample: Any, fileset_writer: Any, tmp_path: Path) -> Path:
    """One file, three chunks: enough to resume from, quick to run."""
    path = str(sample.files[("tau", "sparse")])
    return Path(fileset_writer(tmp_path / "fs.json", {"tau": {path: "Events"}}))


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of every chunk the processor really computes (not loaded from a checkpoint).

    The method is patched on the class itself: the processor's class is part of the work's
    identity, and the subprocess of the SIGKILL test runs the unpatched class."""
    calls = tmp_path / "calls.txt"
    original = E2ETaggerProcessor.process

    def process(self: E2ETaggerProcessor, events: Any) -> dict[str, Any]:
        with open(calls, "a") as f:
            f.write(f"{events.metadata['entrystart']}\n")
        return original(self, events)

    monkeypatch.setattr(E2ETaggerProcessor, "process", process)
    return calls


def _retrained(src: Path, dst: Path) -> Path:
    """The same tagger (name, contract) with other weights: what retraining gives."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    init = max(model.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, dst)
    return dst


def _run(fileset: Path, tagger: Any, ckpt: Path, **kw: Any) -> Any:
    return run(
        fileset, [tagger], chunksize=CHUNKSIZE, device="cpu", progress=False,
        checkpoint_dir=ckpt, **kw,
    )  # fmt: skip


def _computed(calls: Path) -> list[str]:
    text = calls.read_text().split() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return text


def _entries(ckpt: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((ckpt / "manifest").glob("*.json"))]


def test_rerun_of_the_same_work_computes_nothing(
    tau_only: Path, jet_tagger: Path, counted: Path, tmp_path: Path, hists_equal: Any
) -> None:
    ckpt = tmp_path / "ckpt"
    first = _run(tau_only, jet_tagger, ckpt)
    assert len(_computed(counted)) == 3
    assert stat.S_IMODE(ckpt.stat().st_mode) == 0o700
    for p in ckpt.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    assert len(_entries(ckpt)) == 3
    second = _run(tau_only, jet_tagger, ckpt)
    assert _computed(counted) == []
    assert second.complete
    assert hists_equal(second.output["hists"], first.output["hists"])
    assert second.output["cutflow"] == first.output["cutflow"]


def test_another_tagger_is_refused_before_any_chunk(
    tau_only: Path,
    jet_tagger: Path,
    counted: Path,
    tmp_path: Path,
    hists_equal: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reported bug: a second tagger over the first one's checkpoints took its chunks
    and said ``complete``. Same name, other weights: refused too."""
    ckpt = tmp_path / "ckpt"
    _run(tau_only, jet_tagger, ckpt)
    other = _retrained(jet_tagger, tmp_path / "other" / jet_tagger.name)
    _computed(counted)
    with pytest.raises(CheckpointDirError) as info:
        _run(tau_only, other, ckpt)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1
    assert str(ckpt) in msg
    assert "other work" in msg
    assert "--recompute-checkpoints" in msg
    assert _computed(counted) == []  # refused before any chunk ran
    # on the command line: exit 2, one line
    argv = [
        "run", "--fileset", str(tau_only), "--tagger", str(other), "--chunksize", "15",
        "--device", "cpu", "--checkpoint-dir", str(ckpt), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "other work" in err
    assert _computed(counted) == []
    # asked to, it discards them and computes everything with the new tagger
    redone = _run(tau_only, other, ckpt, recompute_checkpoints=True)
    assert len(_computed(counted)) == 3
    fresh = run(tau_only, [other], chunksize=CHUNKSIZE, device="cpu", progress=False)
    assert hists_equal(redone.output["hists"], fresh.output["hists"])
    assert len(_entries(ckpt)) == 3
    # and other cuts are other work too
    with pytest.raises(CheckpointDirError, match="cuts"):
        _run(tau_only, other, ckpt, cuts=ObjectCuts(pt_min=30.0))


def test_other_weights_never_reuse_a_checkpoint(
    sample: Any, jet_tagger: Path, counted: Path, tmp_path: Path
) -> None:
    """A corrected cross-section recomputes the chunks it weights (the weights are in each
    chunk's key); another luminosity is other work, refused like another tagger."""
    fs = load_fileset(sample.fileset["sparse"])
    tau = {"tau": fs["tau"]}
    ckpt = tmp_path / "ckpt"
    first = _run(tau, jet_tagger, ckpt)
    assert len(_computed(counted)) > 0
    tau["tau"]["metadata"]["xsec_pb"] *= 2
    second = _run(tau, jet_tagger, ckpt)
    assert len(_computed(counted)) == first.output["metrics"]["chunks"]  # nothing reused
    total = [r.output["hists"]["score"].sum(flow=True).value for r in (first, second)]
    assert total[1] == pytest.approx(2 * total[0], rel=1e-12)
    with pytest.raises(CheckpointDirError, match="lumi_fb"):
        _run(tau, jet_tagger, ckpt, lumi_fb=3.0)


def test_planted_files_are_never_loaded(
    tau_only: Path, jet_tagger: Path, counted: Path, tmp_path: Path, hists_equal: Any
) -> None:
    marker, ckpt = tmp_path / "pwned", tmp_path / "ckpt"
    evil = pickle.dumps({"out": _Payload(marker)})
    ckpt.mkdir(mode=0o700)
    # coffea's SimpleCheckpointer layout, with a pickle where a chunk would be
    legacy = ckpt / "tau" / "uuid" / "Events"
    legacy.mkdir(parents=True)
    (legacy / "0-14.coffea").write_bytes(evil)
    with pytest.raises(CheckpointDirError, match=r"no IDENTITY\.json"):
        _run(tau_only, jet_tagger, ckpt)
    clean = _run(tau_only, jet_tagger, ckpt, recompute_checkpoints=True)
    assert len(_computed(counted)) == 3
    assert (legacy / "0-14.coffea").exists()  # not ours: left alone, never read
    # a pickle and garbage under names of our own layout, with no manifest entry
    entry = _entries(ckpt)[0]
    (ckpt / "manifest" / f"{entry['key']}.json").unlink()
    (ckpt / "chunks" / entry["data"]).write_bytes(evil)
    (ckpt / "chunks" / f"{entry['key']}-{'0' * 16}.zip").write_bytes(b"garbage")
    again = _run(tau_only, jet_tagger, ckpt)
    assert _computed(counted) == [str(entry["entrystart"])]  # recomputed, not loaded
    assert hists_equal(again.output["hists"], clean.output["hists"])
    # even a forged manifest entry whose hash matches the pickle cannot make it run
    entry = _entries(ckpt)[0]
    (ckpt / "chunks" / entry["data"]).write_bytes(evil)
    forged = {**entry, "sha256": hashlib.sha256(evil).hexdigest()}
    (ckpt / "manifest" / f"{entry['key']}.json").write_text(json.dumps(forged))
    with pytest.raises(OutputFormatError, match=entry["data"]):
        _run(tau_only, jet_tagger, ckpt)
    assert not marker.exists()


def test_edited_checkpoint_is_detected(
    tau_only: Path, jet_tagger: Path, counted: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "ckpt"
    _run(tau_only, jet_tagger, ckpt)
    entry = _entries(ckpt)[0]
    path = ckpt / "chunks" / entry["data"]
    payload = loads_output(path.read_bytes())
    score = payload["out"]["hists"]["score"]
    score[{"dataset": 0, "label": 0, "tagger": 0}] = (
        score[{"dataset": 0, "label": 0, "tagger": 0}].view() * 0
    )  # a plausible, well-formed, wrong result
    path.write_bytes(dumps_output(payload))
    _computed(counted)
    with pytest.raises(CheckpointIntegrityError, match=entry["data"]) as info:
        _run(tau_only, jet_tagger, ckpt)
    assert "sha256" in str(info.value)
    # a deleted checkpoint is just redone
    path.unlink()
    assert _run(tau_only, jet_tagger, ckpt).complete
    assert _computed(counted) == [str(entry["entrystart"])]


def test_a_directory_others_can_write_is_refused(
    tau_only: Path, jet_tagger: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    ckpt.chmod(0o777)
    with pytest.raises(CheckpointDirError, match="writable by others"):
        _run(tau_only, jet_tagger, ckpt)
    ckpt.chmod(0o755)  # readable by others: tightened, then used
    assert _run(tau_only, jet_tagger, ckpt).complete
    assert stat.S_IMODE(ckpt.stat().st_mode) == 0o700


_KILLED_RUN = """
import sys, time
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run

original = E2ETaggerProcessor.process

def slow(self, events):  # the class stays the same: the checkpoints stay valid
    out = original(self, events)
    time.sleep(1.0)
    return out

E2ETaggerProcessor.process = slow
run(sys.argv[1], sys.argv[3:], chunksize=15, device="cpu", progress=False,
    checkpoint_dir=sys.argv[2])
raise SystemExit("the run was meant to be killed before it finished")
"""


def test_sigkill_mid_run_then_rerun_equals_a_clean_run(
    sample: Any,
    jet_tagger: Path,
    eg_tagger: Path,
    clean: Any,
    counted: Path,
    tmp_path: Path,
    hists_equal: Any,
) -> None:
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    cmd = [sys.executable, "-c", textwrap.dedent(_KILLED_RUN), str(sample.fileset["sparse"]),
           str(ckpt), str(jet_tagger), str(eg_tagger)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list((ckpt / "manifest").glob("*.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = len(_entries(ckpt))
    assert 2 <= saved < 6  # it really died mid-run
    resumed = run(
        sample.fileset["sparse"], [jet_tagger, eg_tagger], chunksize=CHUNKSIZE, device="cpu",
        progress=False, checkpoint_dir=ckpt,
    )  # fmt: skip
    assert len(_computed(counted)) == 6 - saved  # only what the killed run had not saved
    assert resumed.complete
    assert resumed.failed == []
    assert hists_equal(resumed.output["hists"], clean.output["hists"])
    assert resumed.output["cutflow"] == clean.output["cutflow"]
    assert resumed.output["chunks"] == clean.output["chunks"]
    assert resumed.output["entries"] == clean.output["entries"]
    assert len(_entries(ckpt)) == 6


def test_a_chunk_given_up_on_is_not_saved_and_is_retried(
    tau_only: Path,
    jet_tagger: Path,
    counted: Path,
    tmp_path: Path,
    hists_equal: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With skip_bad_files the processor turns a chunk's failure into an output that
    lists it; checkpointing that output would make the failure permanent."""
    import e2e_coffea.processor.tagger_processor as tp

    ckpt, real = tmp_path / "ckpt", tp.read_columns

    def fails_at_zero(events: Any, plan: Any, **kw: Any) -> Any:
        if events.metadata["entrystart"] == 0:
            msg = "injected read failure"
            raise OSError(msg)
        return real(events, plan, **kw)

    monkeypatch.setattr(tp, "read_columns", fails_at_zero)
    first = _run(tau_only, jet_tagger, ckpt, skip_bad_files=True)
    (failure,) = first.failed
    assert failure.entry_start == 0
    assert "injected read failure" in failure.reason
    saved = [e["entrystart"] for e in _entries(ckpt)]
    assert len(saved) == 2
    assert 0 not in saved
    monkeypatch.setattr(tp, "read_columns", real)
    _computed(counted)
    second = _run(tau_only, jet_tagger, ckpt, skip_bad_files=True)
    assert _computed(counted) == ["0"]  # only the chunk that had failed
    assert second.complete
    fresh = run(tau_only, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False)
    assert hists_equal(second.output["hists"], fresh.output["hists"])
