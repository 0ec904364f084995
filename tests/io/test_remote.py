"""Remote inputs: ``https://`` (a range-capable server on 127.0.0.1) and ``root://`` URLs
work wherever a local path does, and are never mangled into local paths."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import awkward as ak
import numpy as np
import pytest
import uproot

from e2e_coffea.cli import main
from e2e_coffea.exceptions import FileLayoutError
from e2e_coffea.io import open_tree


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (RFC 9110 single ranges), as xrootd-http,
    EOS and S3 gateways serve ROOT files. Counts the requests it answered."""

    requests: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        RangeHandler.requests.append(self.path)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if m is None or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start = int(m[1])
        stop = min(int(m[2]) + 1 if m[2] else len(data), len(data))
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
        self.send_header("Content-Length", str(stop - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(data[start:stop])


@pytest.fixture(scope="module")
def server(sample: Any) -> Iterator[str]:
    root = sample.root

    def handler(*args: Any, **kw: Any) -> RangeHandler:
        return RangeHandler(*args, directory=str(root), **kw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _url(server: str, sample: Any, process: str, layout: str) -> str:
    return f"{server}/{sample.files[(process, layout)].relative_to(sample.root).as_posix()}"


def test_open_tree_reads_over_http(server: str, sample: Any) -> None:
    RangeHandler.requests.clear()
    url = _url(server, sample, "tau", "sparse")
    with open_tree(url, "sparse") as tree:
        remote = tree.arrays(["Jet_pt"])
    with uproot.open(sample.files[("tau", "sparse")]) as f:
        local = f["Events"].arrays(["Jet_pt"])
    assert remote.tolist() == local.tolist()
    assert RangeHandler.requests  # it really went over the wire


def test_frames_command_on_a_url(server: str, sample: Any, tmp_path: Path) -> None:
    url, local = _url(server, sample, "tau", "e2e"), sample.files[("tau", "e2e")]
    args = ["frames", "--layout", "e2e", "--preset", "qg", "--chunksize", "30"]
    assert main([*args, url, "--out", str(tmp_path / "r.npz")]) == 0
    assert main([*args, str(local), "--out", str(tmp_path / "l.npz")]) == 0
    r, lo = np.load(tmp_path / "r.npz"), np.load(tmp_path / "l.npz")
    np.testing.assert_array_equal(r["frames"], lo["frames"])


def test_main_job_on_urls_equals_local(server: str, sample: Any, jet_tagger: Path, tmp_path: Path,
                                       hists_equal: Any) -> None:  # fmt: skip
    from e2e_coffea.runner import run

    fs = {
        p: {"files": {_url(server, sample, p, "sparse"): "Events"}, "metadata": {}}
        for p in ("tau", "qcd")
    }
    local = {
        p: {"files": {str(sample.files[(p, "sparse")]): "Events"}, "metadata": {}}
        for p in ("tau", "qcd")
    }
    path = tmp_path / "remote.json"
    path.write_text(json.dumps(fs))
    a = run(path, [jet_tagger], device="cpu", progress=False)
    b = run(local, [jet_tagger], device="cpu", progress=False)
    assert a.complete
    assert a.processed == b.processed
    assert hists_equal(a.output["hists"], b.output["hists"])
    assert all(f.startswith("http://127.0.0.1:") for f in a.expected)  # URLs kept as given


def test_tagger_on_a_remote_chunk(server: str, sample: Any, jet_tagger: Path) -> None:
    from e2e_coffea.inference import Tagger

    tagger = Tagger(jet_tagger, device="cpu")
    url = _url(server, sample, "tau", "sparse")
    remote = tagger(uproot.open(url)["Events"].arrays())
    local = tagger(uproot.open(sample.files[("tau", "sparse")])["Events"].arrays())
    assert ak.to_list(remote) == ak.to_list(local)


def test_event_display_reads_urls(server: str, sample: Any, jet_tagger: Path) -> None:
    from e2e_coffea.dashboards.jets import load_jets

    fs = {"tau": {"files": {_url(server, sample, "tau", "sparse"): "Events"}, "metadata": {}}}
    loaded = load_jets(fs, jet_tagger, max_events=10)
    local = load_jets({"tau": {"files": {str(sample.files[("tau", "sparse")]): "Events"}, "metadata": {}}},
                      jet_tagger, max_events=10)  # fmt: skip
    np.testing.assert_array_equal(loaded.table.frames, local.table.frames)


def test_xrootd_urls_reach_uproot_unchanged() -> None:
    """No XRootD server here: the error must name the URL exactly as given (not a
    local path made of it), proving the URL went to uproot untouched."""
    url = "root://127.0.0.1:1//store/user/nobody/ntuple.root"
    with pytest.raises(FileLayoutError, match=re.escape(url)), open_tree(url, "e2e"):
        pass
