"""One ROOT file under two names (a hard link, a byte copy, a local path and an http://
URL) is one file: refused across datasets, read once within one, found in checkpoints
under either name, and never counted twice."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from e2e_coffea.exceptions import BadInputError
from e2e_coffea.io.fileset import FilesetWarning
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run
from e2e_coffea.runner.accounting import counted_twice

CHUNKSIZE = 15


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single HTTP Range requests, as ROOT file servers answer them."""

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if m is None or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start = int(m[1])
        stop = min(int(m[2]) + 1 if m[2] else len(data), len(data))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        self.send_header("Content-Length", str(stop - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(data[start:stop])


@pytest.fixture(scope="module")
def server(sample: Any) -> Iterator[str]:
    """The sample's folder over http on 127.0.0.1 (shut down after the module)."""

    def handler(*args: Any, **kw: Any) -> _RangeHandler:
        return _RangeHandler(*args, directory=str(sample.root), **kw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def second_name(sample: Any, server: str, tmp_path: Path) -> Callable[[str], str]:
    """The tau sparse file under another name: a hard link, a byte copy, or its URL."""
    src = sample.files[("tau", "sparse")]

    def make(how: str) -> str:
        if how == "hardlink":
            os.link(src, tmp_path / "link.root")
            return str(tmp_path / "link.root")
        if how == "copy":
            shutil.copyfile(src, tmp_path / "copy.root")
            return str(tmp_path / "copy.root")
        return f"{server}/{src.relative_to(sample.root).as_posix()}"

    return make


def _run(files: dict[str, list[str]], **kw: Any) -> Any:
    fs = {ds: {"files": dict.fromkeys(f, "Events"), "metadata": {}} for ds, f in files.items()}
    return run(fs, ["jet_simplenet"] if not kw.get("taggers") else kw.pop("taggers"),
               chunksize=CHUNKSIZE, device="cpu", progress=False, **kw)  # fmt: skip


@pytest.mark.parametrize("how", ["hardlink", "copy", "url"])
def test_one_file_in_two_datasets_is_refused(
    sample: Any, jet_tagger: Path, second_name: Callable[[str], str], how: str
) -> None:
    orig, other = str(sample.files[("tau", "sparse")]), second_name(how)
    with pytest.raises(BadInputError) as info:
        _run({"tau": [orig], "qcd": [other]}, taggers=[jet_tagger])
    text = str(info.value)
    assert "\n" not in text
    assert orig in text
    assert other in text
    assert "same ROOT file" in text


@pytest.fixture(scope="module")
def single(sample: Any, jet_tagger: Path) -> Any:
    return _run({"tau": [str(sample.files[("tau", "sparse")])]}, taggers=[jet_tagger])


@pytest.mark.parametrize("how", ["hardlink", "copy", "url"])
def test_one_file_twice_in_a_dataset_is_read_once(
    sample: Any, jet_tagger: Path, second_name: Callable[[str], str], single: Any, how: str
) -> None:
    orig, other = str(sample.files[("tau", "sparse")]), second_name(how)
    with pytest.warns(FilesetWarning, match="same ROOT file"):
        result = _run({"tau": [orig, other]}, taggers=[jet_tagger])
    assert result.complete
    assert result.expected == single.expected == {orig: 40}
    assert result.processed == single.processed == 40
    assert result.output["metrics"]["objects"] == single.output["metrics"]["objects"]
    assert result.datasets == {"tau": [orig]}


def test_a_checkpoint_is_found_under_another_name_of_its_file(
    sample: Any, jet_tagger: Path, tmp_path: Path
) -> None:
    orig = sample.files[("tau", "sparse")]
    link = tmp_path / "link.root"
    os.link(orig, link)
    ckpt = tmp_path / "ckpt"

    calls = tmp_path / "calls.txt"

    class Logs(E2ETaggerProcessor):
        """Logs every chunk it processes (to a file: the processor travels pickled)."""

        def process(self, events: Any) -> dict[str, Any]:
            with open(calls, "a") as f:
                f.write(f"{events.metadata['filename']}\n")
            return super().process(events)

    first = _run({"tau": [str(orig)]}, taggers=[jet_tagger], checkpoint_dir=ckpt, processor=Logs)
    assert first.complete
    assert calls.read_text().split() == [str(orig)] * 3
    calls.unlink()
    again = _run({"tau": [str(link)]}, taggers=[jet_tagger], checkpoint_dir=ckpt, processor=Logs)
    assert not calls.exists()  # every chunk came from the checkpoints of the first name
    assert again.complete
    assert again.expected == {str(link): 40}
    assert {c.rpartition(":")[0] for c in again.output["chunks"]} == {str(link)}
    assert again.output["metrics"]["objects"] == first.output["metrics"]["objects"]


def test_accounting_counts_a_file_by_its_uuid() -> None:
    output = {"chunks": {"/a.root:0-20": 20, "/b.root:0-20": 20, "/c.root:0-20": 20}}
    ids = {"/a.root": "u1", "/b.root": "u1", "/c.root": "u2"}
    (line,) = counted_twice(output, ids)
    assert "u1" in line
    assert "/a.root" in line
    assert "/b.root" in line
    assert counted_twice(output, {**ids, "/b.root": "u3"}) == []
