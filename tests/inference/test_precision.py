"""``--precision``: one flag name on run, Tagger and triton-repo; a variant runs only with a
recorded held-out AUC change within the gate; int8 is a working static quantisation."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from types import SimpleNamespace

import awkward as ak
import numpy as np
import onnx
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import PrecisionError
from e2e_coffea.export.precision import MAX_AUC_DROP, PRECISIONS, record_variant, variant_file
from e2e_coffea.inference import Tagger
from e2e_coffea.inference.precision import session_model
from e2e_coffea.inference.shipped import file_sha256, list_taggers, resolve_tagger, shipped_dir
from e2e_coffea.inference.variants import (
    TaskFrames,
    build_int8,
    measure_variant,
    run_model,
    task_frames,
)


def _record(delta: float, sha: str = "0" * 64) -> dict[str, object]:
    return {"auc_fp32": 0.95, "auc_variant": 0.95 + delta, "delta": delta,
            "n_objects": 321, "sha256": sha}  # fmt: skip


def _with_task(src: Path, dst: Path) -> Path:
    """A copy of ``src`` whose contract names the tau task (as a shipped tagger's does)."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "e2e_coffea.provenance":
            prop.value = json.dumps({"tagger_task": "tau"})
    onnx.save(model, str(dst))
    return dst


@pytest.fixture
def tagger_copy(tmp_path: Path, jet_tagger: Path) -> Path:
    """The tiny jet tagger of the tau task, in a folder of its own."""
    return _with_task(jet_tagger, tmp_path / "tiny.onnx")


@pytest.fixture(scope="module")
def frames(
    tmp_path_factory: pytest.TempPathFactory, jet_tagger: Path, sample: SimpleNamespace
) -> TaskFrames:
    """Tau-task frames of the tiny tagger from the session's generated sample."""
    path = _with_task(jet_tagger, tmp_path_factory.mktemp("tau-task") / "tiny.onnx")
    return task_frames(resolve_tagger(path), sample.fileset["sparse"], per_class=40)


def test_gate_refuses_a_recorded_drop_and_names_it(tagger_copy: Path) -> None:
    record_variant(tagger_copy, "int8", _record(-0.0043))
    with pytest.raises(
        PrecisionError, match=r"drops by 0\.0043 \(0\.9500 -> 0\.9457 on 321 objects\)"
    ):
        Tagger(tagger_copy, precision="int8")
    record_variant(tagger_copy, "fp16", _record(-0.0021))
    with pytest.raises(PrecisionError, match=r"drops by 0\.0021"):
        Tagger(tagger_copy, precision="fp16")


def test_gate_refuses_a_missing_record(tagger_copy: Path) -> None:
    with pytest.raises(PrecisionError, match="no recorded held-out AUC for precision int8"):
        Tagger(tagger_copy, precision="int8")
    record_variant(tagger_copy, "int8", _record(-0.0001))  # a record, but for int8 only
    with pytest.raises(PrecisionError, match="no recorded held-out AUC for precision fp16"):
        Tagger(tagger_copy, precision="fp16")
    assert Tagger(tagger_copy).model.path == str(tagger_copy)  # fp32 needs no record


def test_bf16_is_refused_with_what_onnxruntime_says(jet_tagger: Path) -> None:
    with pytest.raises(PrecisionError, match=r"cannot run bfloat16 models .*Conv"):
        Tagger(jet_tagger, precision="bf16")
    with pytest.raises(PrecisionError, match="precision 'int4' is not one of"):
        Tagger(jet_tagger, precision="int4")


def test_gate_accepts_a_measured_variant_and_runs_that_file(
    tagger_copy: Path, frames: TaskFrames, sample: SimpleNamespace
) -> None:
    spec = resolve_tagger(tagger_copy)
    record = measure_variant(spec, "int8", frames)
    assert record["n_objects"] + record["n_calibration"] == len(frames.labels)
    int8 = variant_file(tagger_copy, "int8")
    assert record["sha256"] == file_sha256(int8)
    record_variant(tagger_copy, "int8", {**record, "auc_variant": record["auc_fp32"] - 0.002})
    tagger = Tagger(tagger_copy, precision="int8", device="cpu")
    assert tagger.model.path == str(int8)
    assert tagger.backend("cpu").path == str(int8)  # the session loads the variant
    # its scores follow fp32's on the sample's jets
    import uproot

    with uproot.open(sample.files[("tau", "sparse")]) as f:
        chunk = f["Events"].arrays(library="ak")
    s8 = ak.to_numpy(ak.fill_none(ak.flatten(tagger(chunk)), np.nan))
    s32 = ak.to_numpy(ak.fill_none(ak.flatten(Tagger(tagger_copy, device="cpu")(chunk)), np.nan))
    good = ~np.isnan(s32)
    assert good.sum() > 5
    assert np.corrcoef(s8[good], s32[good])[0, 1] > 0.98
    # a variant file that is not the measured one is refused, before any chunk
    int8.write_bytes(int8.read_bytes() + b"\0")
    with pytest.raises(PrecisionError, match="is not the int8 variant whose AUC"):
        Tagger(tagger_copy, precision="int8")
    int8.unlink()
    with pytest.raises(PrecisionError, match=r"int8 variant .* is missing"):
        Tagger(tagger_copy, precision="int8")


def test_int8_logits_follow_fp32_and_calibration_matters(
    tmp_path: Path, jet_tagger: Path, frames: TaskFrames
) -> None:
    """On the frames it was calibrated on, every int8 logit is within 3 % of the fp32
    logits' spread; calibrated on frames ten times too faint (ranges too narrow), the
    same model misses by far: the tolerance sees a wrong calibration."""
    ref = run_model(str(jet_tagger), frames.inputs)
    spread = float(ref.max() - ref.min())

    def error(calibration: TaskFrames, name: str) -> float:
        model = build_int8(jet_tagger, tmp_path / name, calibration)
        return float(np.abs(run_model(str(model), frames.inputs) - ref).max()) / spread

    assert error(frames, "good.onnx") < 0.03
    assert error(TaskFrames(frames.inputs * 0.1, frames.labels), "faint.onnx") > 0.3


def test_a_regression_tagger_has_no_auc_to_gate_on() -> None:
    with pytest.raises(PrecisionError, match="regression tagger: there is no AUC"):
        task_frames(resolve_tagger("jet_mass_simplenet"), "unused")
    with pytest.raises(PrecisionError, match="regression tagger: no AUC gates its int8 variant"):
        Tagger("jet_mass_simplenet", precision="int8")


def test_run_refuses_an_ungated_precision_in_one_line(
    tmp_path: Path, jet_tagger: Path, sample: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--fileset", str(sample.fileset["sparse"]), "--tagger", str(jet_tagger),
            "--precision", "int8", "--executor", "iterative", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no recorded held-out AUC for precision int8" in err[0]


def test_triton_repo_writes_the_gated_variant(
    tagger_copy: Path, frames: TaskFrames, tmp_path: Path
) -> None:
    spec = resolve_tagger(tagger_copy)
    record = measure_variant(spec, "int8", frames)  # an untrained net: pretend it passed
    record_variant(tagger_copy, "int8", {**record, "auc_variant": record["auc_fp32"]})
    out = tmp_path / "repo"
    assert main(["triton-repo", str(tagger_copy), "--precision", "int8", "--out", str(out)]) == 0
    written = out / "tiny" / "1" / "model.onnx"
    assert file_sha256(written) == file_sha256(variant_file(tagger_copy, "int8"))
    assert (
        main(
            ["triton-repo", str(tagger_copy), "--precision", "fp16", "--out", str(tmp_path / "r2")]
        )
        == 2
    )
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("command", [["run"], ["triton-repo"], ["contract", "variants"]])
def test_one_precision_flag_everywhere(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"--precision \[fp32\|fp16\|bf16\|int8\]", text), text
    assert "--fp16" not in text
    assert "--dtype" not in text


def test_tagger_and_processor_take_precision_not_fp16() -> None:
    from e2e_coffea.processor import E2ETaggerProcessor
    from e2e_coffea.runner import run

    for fn in (Tagger.__init__, E2ETaggerProcessor.__init__, run):
        params = inspect.signature(fn).parameters
        assert params["precision"].default == "fp32"
        assert "fp16" not in params
    assert PRECISIONS == ("fp32", "fp16", "bf16", "int8")


def test_contract_variants_records_the_measurement(
    tagger_copy: Path, sample: SimpleNamespace
) -> None:
    """``contract variants`` writes the record the gate reads into the tagger's contract."""
    rc = main(["contract", "variants", str(tagger_copy), "--precision", "fp16",
               "--sample", str(sample.fileset["sparse"]), "--per-class", "40"])  # fmt: skip
    assert rc == 0
    rec = resolve_tagger(tagger_copy).contract.precision_variants["fp16"]  # type: ignore[index]
    assert set(rec) >= {"auc_fp32", "auc_variant", "delta", "n_objects", "sha256", "sample"}
    assert rec["delta"] == pytest.approx(rec["auc_variant"] - rec["auc_fp32"])
    assert rec["n_objects"] > 10


@pytest.mark.parametrize("name", list_taggers())
def test_shipped_variants_load_or_name_their_drop(name: str) -> None:
    """Every shipped tagger either runs a variant (the file shipped is the one measured)
    or refuses it naming why; no variant file ships without a passing record."""
    spec = resolve_tagger(name)
    records = spec.contract.precision_variants or {}
    for precision in ("fp16", "int8"):
        rec = records.get(precision)
        if rec is not None and rec["auc_fp32"] - rec["auc_variant"] <= MAX_AUC_DROP:
            assert rec["n_objects"] >= 200
            model = session_model(spec, precision)
            if precision == "int8":  # fp16 is converted at load: its hash is not checked
                assert model.sha256 == rec["sha256"] == file_sha256(model.path)
            else:
                assert model.fp16
        else:
            assert not variant_file(spec.path, precision).exists()
            reason = "drops by" if rec is not None else "no recorded held-out AUC|fp32 only"
            with pytest.raises(PrecisionError, match=reason):
                session_model(spec, precision)


def test_every_shipped_variant_file_is_a_measured_one() -> None:
    folder = shipped_dir() / "variants"
    names = {p.name for p in folder.glob("*")}
    assert names == {
        f"{n}.int8.onnx" for n in list_taggers()
        if "int8" in (resolve_tagger(n).contract.precision_variants or {})
        and variant_file(resolve_tagger(n).path, "int8").exists()
    }  # fmt: skip
    assert "tau_resnet15.int8.onnx" in names  # the goal: ResNet-15 int8 passes
