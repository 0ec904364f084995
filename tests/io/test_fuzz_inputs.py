"""Fuzzing what crosses into a run: nothing escapes but the project's own errors.

Fileset JSON, branch profiles (YAML and JSON), contract metadata and ``output.zip``
bytes are fed random and mutated documents. Whatever comes in, the reader returns a
value or raises an :class:`~e2e_coffea.exceptions.E2EError` (one line in the CLI); a
``KeyError``, ``TypeError``, ``RecursionError`` or ``MemoryError`` is a bug. Bounded:
each target runs a fixed number of examples, derandomised, so CI time is fixed.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2e_coffea.exceptions import E2EError
from e2e_coffea.export.contract import MARKER_KEY, PREFIX, Contract
from e2e_coffea.io.fileset import load_fileset
from e2e_coffea.io.profiles import load_profile
from e2e_coffea.processor.serialize import dumps_output, loads_output

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KEYS = st.sampled_from(
    ["files", "metadata", "treename", "layout", "xsec_pb", "qcd", "tau", "name", "branches",
     "tree", "description", "jet_Pt", "nVtx", "format", "version", "output", "__e2e__", "ref",
     "dtype", "value", "items", "hist", "array", "sparse", "e2e", "Events", "a.root"]
) | st.text(max_size=8)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | KEYS
)
HUGE_INT = "1" * 5000  # more digits than Python converts from text
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def only_our_errors(read: Callable[[], Any]) -> None:
    """Run ``read``; anything raised must be one of the project's errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a FilesetWarning is a message, not an escape
        try:
            read()
        except E2EError:
            pass


def _json_text(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


# -- fileset JSON ------------------------------------------------------------------------
@FUZZ
@given(doc=JSON_VALUES | st.dictionaries(KEYS, JSON_VALUES, min_size=1, max_size=3))
def test_fileset_documents(tmp_path: Path, doc: Any) -> None:
    p = tmp_path / "fs.json"
    p.write_text(_json_text(doc))
    only_our_errors(lambda: load_fileset(p))


@FUZZ
@given(
    data=st.binary(max_size=200)
    | st.text(max_size=200).map(str.encode)
    | st.just(HUGE_INT.encode())
)
def test_fileset_bytes(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "fs.json"
    p.write_bytes(data)
    only_our_errors(lambda: load_fileset(p))


# -- branch profiles ---------------------------------------------------------------------
PROFILE_DOCS = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": SCALARS,
            "layout": st.sampled_from(["e2e", "sparse"]) | SCALARS,
            "tree": SCALARS,
            "branches": st.dictionaries(KEYS | st.integers(), SCALARS, max_size=4) | JSON_VALUES,
            "description": SCALARS,
            "extra": SCALARS,
        },
    )
    | JSON_VALUES
)


@FUZZ
@given(doc=PROFILE_DOCS, as_json=st.booleans())
def test_branch_profile_documents(tmp_path: Path, doc: Any, as_json: bool) -> None:
    p = tmp_path / ("p.json" if as_json else "p.yaml")
    p.write_text(_json_text(doc) if as_json else yaml.safe_dump(doc))
    only_our_errors(lambda: load_profile(str(p)))


YAML_TOKENS = st.sampled_from(
    ["&a ", "*a", "<<: ", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "!!python/object:os.system ",
     "!!binary ", "? ", "|", ">", "'", '"', "#", ",", "layout", "sparse", "name", "branches",
     "jet_Pt", "x", "1", "~", "!!str ", "%YAML 1.1\n", "---\n", "...\n", "\t", "\\u0000"]
)  # fmt: skip


@FUZZ
@given(tokens=st.lists(YAML_TOKENS, max_size=40), raw=st.binary(max_size=60), huge=st.booleans())
def test_branch_profile_yaml_text(
    tmp_path: Path, tokens: list[str], raw: bytes, huge: bool
) -> None:
    p = tmp_path / "p.yaml"
    p.write_bytes("".join(tokens).encode() + raw + (HUGE_INT.encode() if huge else b""))
    only_our_errors(lambda: load_profile(str(p)))


# -- contract metadata -------------------------------------------------------------------
VALID = {
    MARKER_KEY: "2",
    PREFIX + "task": '"classification"',
    PREFIX + "model_name": '"m"',
    PREFIX + "channels": '["ecal", "hcal"]',
    PREFIX + "frame_size": "[125, 125]",
    PREFIX + "class_names": '["qcd", "tau"]',
}
FIELDS = [MARKER_KEY] + [PREFIX + f for f in (
    "task", "model_name", "channels", "frame_size", "class_names", "kind", "crop", "points",
    "normalisation", "scalar_inputs", "scalar_norm", "input_names", "output_names",
    "output_kind", "validity", "target", "provenance", "metrics", "channel_preset")]  # fmt: skip


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(FIELDS),
        JSON_VALUES.map(_json_text)
        | st.text(max_size=30)
        | st.sampled_from(["[" * 5000, HUGE_INT]),
        max_size=4,
    ),
    drop=st.lists(st.sampled_from(sorted(VALID)), max_size=2),
)
def test_contract_metadata(changes: dict[str, str], drop: list[str]) -> None:
    props = {k: v for k, v in VALID.items() if k not in drop}
    props.update(changes)
    only_our_errors(lambda: Contract.from_metadata(props, source="fuzz.onnx"))


# -- output.zip --------------------------------------------------------------------------
def _valid_output() -> bytes:
    import hist

    h = hist.Hist.new.Reg(4, 0, 1, name="x").StrCat(["a", "b"], name="c").Weight()
    h.fill(x=[0.1, 0.5], c=["a", "b"], weight=[1.0, 2.0])
    return dumps_output({"hists": {"h": h}, "n": np.int64(3), "v": np.arange(3.0), "t": (1, "a")})


VALID_OUTPUT = _valid_output()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def test_the_fuzzed_output_reads_back() -> None:
    """The seed of the mutations below is itself a good output (or they prove nothing)."""
    out = loads_output(VALID_OUTPUT)
    assert out["hists"]["h"].sum().value == pytest.approx(3.0)


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(VALID_OUTPUT) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    )
)
def test_output_zip_byte_flips(flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID_OUTPUT)
    for at, value in flips:
        data[at] = value
    only_our_errors(lambda: loads_output(bytes(data), source="fuzz.zip"))


@FUZZ
@given(
    member=st.sampled_from(sorted(_members(VALID_OUTPUT))),
    body=JSON_VALUES.map(lambda v: _json_text(v).encode()) | st.binary(max_size=120),
)
def test_output_zip_members(member: str, body: bytes) -> None:
    members = _members(VALID_OUTPUT)
    if member.endswith(".npy") and body[:1] != b"{":
        body = members[member][:10] + body  # the magic and the header length kept: reach the header
    members[member] = body
    only_our_errors(lambda: loads_output(_zip(members), source="fuzz.zip"))


@FUZZ
@given(
    shape=st.lists(st.integers(0, 2**62), max_size=4),
    descr=st.sampled_from(["<f8", "<i4", "|b1", "|O", "<U3", "|V8", "<c16", ">f4"]),
    tail=st.binary(max_size=64),
)
def test_output_zip_array_headers(shape: list[int], descr: str, tail: bytes) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    )
    members = _members(VALID_OUTPUT)
    name = next(n for n in members if n.startswith("array") and n.endswith(".npy"))
    members[name] = header.getvalue() + tail
    only_our_errors(lambda: loads_output(_zip(members), source="fuzz.zip"))
