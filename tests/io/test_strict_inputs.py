"""Every file from outside is parsed strictly, and refused in one line naming it.

Each test reproduces one finding of issue 19 (a duplicate dataset that lost files, a
YAML alias bomb, nesting that raised RecursionError, an array header that raised
MemoryError, a frame size that tried to allocate 969 GiB, a FIFO that hung a run, a seed
reported as -2**63, an upper-case URL taken for a path, a quote that broke a message).
"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_coffea.cli import main
from e2e_coffea.exceptions import (
    BadInputError,
    ClusterConfigError,
    ContractError,
    MalformedInputError,
    OutputFormatError,
)
from e2e_coffea.export.contract import Contract
from e2e_coffea.facility.config import load_cluster_config
from e2e_coffea.io.fileset import load_fileset
from e2e_coffea.io.jsonfiles import loads_json, read_json
from e2e_coffea.io.locations import is_remote, normalise_location
from e2e_coffea.io.profiles import load_profile
from e2e_coffea.io.yamlfiles import loads_yaml
from e2e_coffea.processor.serialize import dumps_output, loads_output

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- JSON --------------------------------------------------------------------------------
def test_a_dataset_named_twice_is_refused_naming_it(tmp_path: Path) -> None:
    def entry(name: str) -> str:
        return json.dumps({"files": {f"/data/{name}.root": "Events"}, "metadata": {}})

    p = tmp_path / "fs.json"
    p.write_text(f'{{"qcd": {entry("qcd1")}, "tau": {entry("tau")}, "qcd": {entry("qcd2")}}}')
    with pytest.raises(MalformedInputError, match=r"duplicate key 'qcd'") as info:
        load_fileset(p)  # plain json.loads kept only qcd2.root, and qcd1's events were lost
    assert str(p) in str(info.value)


def test_a_dataset_named_twice_exits_2_from_the_cli(tmp_path: Path, capsys: Any) -> None:
    def entry(name: str) -> str:
        return json.dumps({"files": {f"{name}.root": "Events"}, "metadata": {}})

    p = tmp_path / "fs.json"
    p.write_text(f'{{"qcd": {entry("q1")}, "tau": {entry("t")}, "qcd": {entry("q2")}}}')
    code = main(
        ["run", "--fileset", str(p), "--tagger", "tau_simplenet", "--out", str(tmp_path / "o")]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "'qcd'" in line
    assert "fs.json" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_json_is_one_clean_error_not_a_recursion_error(opener: str) -> None:
    with pytest.raises(MalformedInputError, match="nested deeper than 64"):
        loads_json(opener * 100_000, source="x.json")
    with pytest.raises(MalformedInputError, match="nested deeper than 64"):
        loads_json("[" * 65 + "]" * 65, source="x.json")  # below Python's limit, above ours
    assert loads_json("[" * 64 + "]" * 64, source="x.json") is not None


def test_deep_contract_metadata_is_a_contract_error() -> None:
    props = {"e2e_coffea.contract_version": "2", "e2e_coffea.task": "[" * 100_000}
    with pytest.raises(ContractError, match="nested deeper"):
        Contract.from_metadata(props, source="m.onnx")
    props["e2e_coffea.task"] = '{"a": 1, "a": 2}'
    with pytest.raises(ContractError, match="duplicate key 'a'"):
        Contract.from_metadata(props, source="m.onnx")


def test_an_integer_of_5000_digits_is_one_clean_error() -> None:
    with pytest.raises(MalformedInputError, match=r"x\.json: not valid JSON"):
        loads_json("[" + "1" * 5000 + "]", source="x.json")
    with pytest.raises(MalformedInputError, match=r"p\.yaml: not valid YAML"):
        loads_yaml("a: " + "1" * 5000, source="p.yaml")


def test_a_json_file_is_bounded_in_size(tmp_path: Path) -> None:
    p = tmp_path / "big.json"
    p.write_text("[" + "0," * 1000 + "0]")
    with pytest.raises(MalformedInputError, match="more than the 100 accepted"):
        read_json(p, what="fileset", max_bytes=100)


# -- YAML --------------------------------------------------------------------------------
def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BILLION_LAUGHS)
    with pytest.raises(MalformedInputError, match=r"anchor &a refused") as info:
        load_profile(str(p))
    assert str(p) in str(info.value)
    # an alias with no anchor of its own in sight is refused too
    with pytest.raises(MalformedInputError, match=r"alias \*x refused"):
        loads_yaml("a: *x\n", source="p.yaml")


def test_yaml_alias_bomb_exits_2_from_the_cli(tmp_path: Path, capsys: Any) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BILLION_LAUGHS)
    fs = tmp_path / "fs.json"
    fs.write_text('{"tau": {"files": {"a.root": "Events"}, "metadata": {}}}')
    code = main(["run", "--fileset", str(fs), "--tagger", "tau_simplenet", "--branches", str(p),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "bomb.yaml" in line
    assert "refused" in line


def test_yaml_duplicate_keys_are_refused_naming_the_key(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("name: mine\nlayout: sparse\nname: theirs\n")
    with pytest.raises(MalformedInputError, match=r"line 3: duplicate key 'name'"):
        load_profile(str(p))
    j = tmp_path / "p.json"
    j.write_text('{"name": "mine", "name": "theirs"}')
    with pytest.raises(MalformedInputError, match=r"duplicate key 'name'"):
        load_profile(str(j))


def test_yaml_nesting_is_bounded() -> None:
    with pytest.raises(MalformedInputError, match="nested deeper than 64"):
        loads_yaml("[" * 100_000, source="p.yaml")
    with pytest.raises(MalformedInputError, match="nested deeper than 64"):
        loads_yaml("a:\n" + "".join(f"{' ' * i} b:\n" for i in range(1, 80)), source="p.yaml")


def test_facility_config_is_strict_yaml(tmp_path: Path) -> None:
    p = tmp_path / "site.yaml"
    p.write_text("facility: local\nworkers: 2\nfacility: slurm\n")
    with pytest.raises(ClusterConfigError, match="duplicate key 'facility'"):
        load_cluster_config(p)
    p.write_text("facility: &f local\nother: *f\n")
    with pytest.raises(ClusterConfigError, match="anchor"):
        load_cluster_config(p)


# -- output.zip --------------------------------------------------------------------------
def _with_member(data: bytes, suffix: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, body if item.filename.endswith(suffix) else src.read(item))
    return buf.getvalue()


def test_an_array_header_claiming_terabytes_is_refused_before_allocating() -> None:
    data = dumps_output({"a": np.arange(3.0)})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2_000_000_000_000,)}
    )  # 14.6 TiB of float64, declared in a few bytes
    forged = _with_member(data, ".npy", header.getvalue() + b"\0" * 24)
    with pytest.raises(OutputFormatError, match="claims an array of 16000000000000 bytes"):
        loads_output(forged, source="output.zip")


def test_a_deep_output_tree_is_one_clean_error() -> None:
    data = dumps_output({"a": 1})
    deep = _with_member(data, "tree.json", b"[" * 100_000)
    with pytest.raises(OutputFormatError, match="nested deeper than 64"):
        loads_output(deep, source="output.zip")
    twice = _with_member(data, "tree.json", b'{"format": 1, "format": 2}')
    with pytest.raises(OutputFormatError, match="duplicate key 'format'"):
        loads_output(twice, source="output.zip")


# -- contract frame size -----------------------------------------------------------------
def test_a_huge_frame_size_is_refused_by_the_contract() -> None:
    base = {"task": "classification", "model_name": "m", "channels": ("ecal",),
            "class_names": ("qcd", "tau")}  # fmt: skip
    assert Contract(frame_size=(125, 125), **base).frame_size == (125, 125)
    with pytest.raises(ContractError, match="100000x100000 is too large"):
        Contract(frame_size=(100_000, 100_000), **base)


def _dynamic_model(path: Path) -> Path:
    """A model with free spatial axes: its graph accepts any frame size it is told."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, "h", "w"])
    y = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["n", 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [2], [2, 3])
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["pooled"], keepdims=0),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])
    nodes.append(helper.make_node("Reshape", ["pooled", "shape"], ["logit"]))
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[axes, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_contract_attach_refuses_a_huge_frame_size_in_one_line(tmp_path: Path, capsys: Any) -> None:
    model = _dynamic_model(tmp_path / "theirs.onnx")
    base = ["contract", "attach", str(model), "--channels", "ecal", "--classes", "qcd,tau",
            "--kind", "jet", "--norm", "none", "--out", str(tmp_path / "x.onnx")]  # fmt: skip
    assert main([*base, "--frame-size", "40,40"]) == 0  # the model itself is fine
    capsys.readouterr()
    code = main([*base, "--frame-size", "100000,100000"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "100000x100000" in line


# -- checkpoints -------------------------------------------------------------------------
class _Unblock:
    """Opens the FIFO's writing end while a reader waits on it, so that a reader that
    blocks (the bug) gets EOF instead of hanging the test; a fixed reader never waits."""

    def __init__(self, fifo: Path) -> None:
        self.fifo, self.stop = fifo, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody is reading
                continue
            os.close(fd)

    def __enter__(self) -> _Unblock:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_a_checkpoint_replaced_by_a_fifo_or_a_link_is_refused(
    jet_tagger: Path, tmp_path: Path
) -> None:
    from e2e_coffea.exceptions import CheckpointIntegrityError
    from e2e_coffea.processor import E2ETaggerProcessor
    from e2e_coffea.runner.checkpoints import VerifiedCheckpointer

    proc = E2ETaggerProcessor([str(jet_tagger)], device="cpu")
    ck = VerifiedCheckpointer(tmp_path / "ck", proc)
    meta = {"dataset": "tau", "filename": "/d/tau.root", "treename": "Events", "entrystart": 0,
            "entrystop": 10, "fileuuid": "00"}  # fmt: skip
    ck.save({"out": {"n": 1}, "processed": []}, meta, proc)
    assert ck.load(meta, proc)["out"] == {"n": 1}
    (entry,) = ck.entries()
    data = tmp_path / "ck" / "chunks" / entry["data"]
    data.unlink()
    os.mkfifo(data)
    with _Unblock(data), pytest.raises(CheckpointIntegrityError, match="not a regular file"):
        ck.load(meta, proc)
    manifest = tmp_path / "ck" / "manifest" / f"{entry['key']}.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(manifest.read_bytes())
    manifest.unlink()
    manifest.symlink_to(elsewhere)
    with pytest.raises(CheckpointIntegrityError, match="symbolic link"):
        ck.load(meta, proc)
    manifest.unlink()
    os.mkfifo(manifest)
    with _Unblock(manifest), pytest.raises(CheckpointIntegrityError, match="not a regular file"):
        ck.entries()


def test_a_fifo_for_a_fileset_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fs.json"
    os.mkfifo(fifo)
    with _Unblock(fifo), pytest.raises(MalformedInputError, match="not a regular file"):
        load_fileset(fifo)


# -- finding 7: seeds, URL schemes, quotes -----------------------------------------------
def test_a_seed_of_1e30_is_named_as_given(tmp_path: Path, capsys: Any) -> None:
    from e2e_coffea.sim.generate import validate_request

    args = {"pileup": 0.0, "nproc": 1, "events_per_file": 1, "layout": "sparse"}
    for seed in (1e30, 2.5, float("nan")):
        with pytest.raises(BadInputError, match="--seed must be an integer") as info:
            validate_request(["tau"], 1, tmp_path / "o", seed=seed, **args)  # type: ignore[arg-type]
        assert "-9223372036854775808" not in str(info.value)
    with pytest.raises(BadInputError, match="--pileup"):
        validate_request(["tau"], 1, tmp_path / "o", seed=1, **{**args, "pileup": float("nan")})
    code = main(
        [
            "generate",
            "--process",
            "tau",
            "--events",
            "1",
            "--seed",
            "1e30",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "1e30" in line
    code = main(
        [
            "generate",
            "--process",
            "tau",
            "--events",
            "1",
            "--seed",
            str(10**30),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert str(10**30) in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "url", ["HTTP://host/f.root", "Root://eos.cern.ch//store/f.root", "HTTPS://h/f.root"]
)
def test_url_schemes_are_case_insensitive(url: str, tmp_path: Path) -> None:
    assert is_remote(url)
    loc = normalise_location(url, tmp_path)
    assert "://" in loc
    assert not loc.startswith(str(tmp_path))
    scheme, _, rest = url.partition("://")
    assert loc == f"{scheme.lower()}://{rest}"
    fs = load_fileset({"tau": {"files": {url: "Events"}, "metadata": {}}})
    assert list(fs["tau"]["files"]) == [loc]


@pytest.mark.parametrize("name", ["it's.root", 'a"b.root', 'it\'s "both".root', "plain.root"])
def test_a_quote_in_a_file_name_keeps_the_error_framing(name: str) -> None:
    from coffea.processor.executor import WorkItem

    from e2e_coffea.runner.coffea_compat import failure_line

    path = f"/data/{name}"
    item = WorkItem("tau", path, "Events", 15, 30, b"uuid", {})
    cause = ValueError("entry 17: boom")
    err = Exception(
        f"Failed processing file: {item!r}. The error was: {cause!r}."
    )  # coffea's words
    assert failure_line(err) == f"file {path}, entries 15-30: entry 17: boom"


def test_triton_url_schemes_are_case_insensitive_and_checked(jet_tagger: Path) -> None:
    from e2e_coffea.inference import Tagger
    from e2e_coffea.inference.runtimes import triton_endpoint

    assert triton_endpoint("HTTP://localhost:8000") == ("http", "localhost:8000")
    assert triton_endpoint("localhost:8001") == ("grpc", "localhost:8001")
    assert Tagger(str(jet_tagger), triton="HTTP://localhost:8000").triton == "HTTP://localhost:8000"
    with pytest.raises(BadInputError, match="ftp:// is neither"):
        Tagger(str(jet_tagger), triton="ftp://localhost:8000")


def test_a_file_listed_twice_in_a_list_is_warned_about_not_folded() -> None:
    from e2e_coffea.io.fileset import FilesetWarning

    entry = {"files": ["/d/a.root", "/d/b.root", "/d/a.root"], "metadata": {"layout": "sparse"}}
    with pytest.warns(FilesetWarning, match="listed twice"):
        fs = load_fileset({"tau": entry})
    assert list(fs["tau"]["files"]) == ["/d/a.root", "/d/b.root"]
    with pytest.raises(BadInputError, match="non-empty strings"):
        load_fileset({"tau": {"files": [["/d/a.root"]], "metadata": {}}})


def test_a_training_seed_must_be_an_integer() -> None:
    from e2e_coffea.train.tasks.training import TrainConfig

    assert TrainConfig(task="tau", model="simplenet", seed=7).seed == 7
    for seed in (2.5, 1e30):
        with pytest.raises(BadInputError, match="--seed must be an integer"):
            TrainConfig(task="tau", model="simplenet", seed=seed)  # type: ignore[arg-type]


def test_a_json_model_option_is_strict_but_plain_words_stay_strings() -> None:
    from e2e_coffea.cli.train import _model_options

    assert _model_options(("width=4", "name=abc", 'cfg={"a": 1}')) == {
        "width": 4,
        "name": "abc",
        "cfg": {"a": 1},
    }
    with pytest.raises(MalformedInputError, match=r"--model-option cfg: duplicate key 'a'"):
        _model_options(('cfg={"a": 1, "a": 2}',))
    with pytest.raises(MalformedInputError, match="nested deeper"):
        _model_options(("cfg=" + "[" * 100_000,))


def test_a_frames_npz_with_a_forged_column_header_is_refused(tmp_path: Path) -> None:
    from e2e_coffea.train.data.frame_files import frames_source
    from e2e_coffea.train.tasks.definitions import get_task

    p = tmp_path / "frames.npz"
    np.savez(p, frames=np.zeros((2, 1, 2, 2), np.float32), label=np.zeros(2, np.int64))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<i8", "fortran_order": False, "shape": (2_000_000_000_000,)}
    )
    p.write_bytes(_with_member(p.read_bytes(), "label.npy", header.getvalue() + b"\0" * 16))
    with pytest.raises(MalformedInputError, match=r"label\.npy: its header claims"):
        frames_source(p, get_task("tau"), channels=("ecal",), labels=None)


def test_a_metadata_key_named_twice_in_an_onnx_file_is_refused(tmp_path: Path) -> None:
    import onnx

    from e2e_coffea.export.contract import load_contract

    model = _dynamic_model(tmp_path / "m.onnx")
    proto = onnx.load(model)
    contract = Contract(task="classification", model_name="m", channels=("ecal",),
                        frame_size=(40, 40), class_names=("qcd", "tau"))  # fmt: skip
    for key, value in contract.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, model)
    assert load_contract(model).frame_size == (40, 40)
    entry = proto.metadata_props.add()  # a second frame_size: which one would win?
    entry.key, entry.value = "e2e_coffea.frame_size", "[125, 125]"
    onnx.save(proto, model)
    with pytest.raises(ContractError, match=r"names 'e2e_coffea\.frame_size' twice"):
        load_contract(model)


def test_a_frames_npz_claiming_more_frames_than_it_holds_is_refused_up_front(
    tmp_path: Path,
) -> None:
    from e2e_coffea.exceptions import FileLayoutError
    from e2e_coffea.train.data.frame_files import frames_source
    from e2e_coffea.train.tasks.definitions import get_task

    p = tmp_path / "frames.npz"
    np.savez(p, frames=np.zeros((2, 1, 125, 125), np.float32), label=np.zeros(2, np.int64))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1, 125, 125)}
    )
    with zipfile.ZipFile(p) as z:
        body = z.read("frames.npy")
    forged = header.getvalue() + body[len(header.getvalue()) :]
    p.write_bytes(_with_member(p.read_bytes(), "frames.npy", forged))
    with pytest.raises(FileLayoutError, match="claims 1000000000 frames"):
        frames_source(p, get_task("tau"), channels=("ecal",), labels=None)
