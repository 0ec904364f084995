"""A truncated input file is named, with one line, before the first chunk runs: by its
header's end record, or (when the header was rewritten to the cut) by a basket that lies
past the file's end."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
import uproot

from e2e_coffea.cli import main
from e2e_coffea.exceptions import UnreadableFilesError
from e2e_coffea.processor import E2ETaggerProcessor
from e2e_coffea.runner import run

CHUNKSIZE = 15


def _last_basket(path: Path) -> tuple[int, int]:
    """(seek, bytes) of the basket that ends last in the file."""
    with uproot.open(path) as f:
        spans = []
        for b in f["Events"].itervalues(recursive=True):
            n = int(b.member("fWriteBasket"))
            spans += zip(b.member("fBasketSeek")[:n], b.member("fBasketBytes")[:n], strict=True)
    seek, nbytes = max(spans, key=lambda s: int(s[0]) + int(s[1]))
    return int(seek), int(nbytes)


def _cut(src: Path, dst: Path, where: str) -> Path:
    """``src`` cut at 90% or 50% of its size, or inside its last basket; ``header`` also
    rewrites the header's end record (a small-file fEND, 4 bytes at offset 12) to the cut,
    so only the baskets tell."""
    data = src.read_bytes()
    seek, nbytes = _last_basket(src)
    at = {"90%": len(data) * 9 // 10, "50%": len(data) // 2}.get(where, seek + nbytes // 2)
    cut = bytearray(data[:at])
    if where == "header":
        assert struct.unpack(">i", cut[4:8])[0] < 1_000_000  # 4-byte seeks
        cut[12:16] = struct.pack(">i", at)
    dst.write_bytes(bytes(cut))
    return dst


class _Guard(E2ETaggerProcessor):
    """Any chunk reaching ``process`` fails the test: the error must come before."""

    def process(self, events: Any) -> dict[str, Any]:
        msg = f"a chunk ran: {events.metadata}"
        raise AssertionError(msg)


@pytest.mark.parametrize("where", ["90%", "50%", "last basket", "header"])
def test_truncated_file_is_named_before_any_chunk(
    sample: Any, jet_tagger: Path, tmp_path: Path, where: str
) -> None:
    cut = _cut(sample.files[("qcd", "sparse")], tmp_path / "cut.root", where)
    good = sample.files[("tau", "sparse")]
    fs = {
        "tau": {"files": {str(good): "Events"}, "metadata": {}},
        "qcd": {"files": {str(cut): "Events"}, "metadata": {}},
    }
    with pytest.raises(UnreadableFilesError) as info:
        run(fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False, processor=_Guard)
    text = str(info.value)
    assert "\n" not in text
    assert f"{cut}: truncated: " in text
    assert str(good) not in text
    if where == "header":
        assert "basket ending at byte" in text


def test_run_command_exits_2_naming_the_truncated_file(
    sample: Any, jet_tagger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = _cut(sample.files[("qcd", "sparse")], tmp_path / "cut.root", "last basket")
    fs = tmp_path / "fs.json"
    fs.write_text(
        f'{{"tau": {{"files": {{"{sample.files[("tau", "sparse")]}": "Events"}}}}, '
        f'"qcd": {{"files": {{"{cut}": "Events"}}}}}}'
    )
    code = main(["run", "--fileset", str(fs), "--tagger", str(jet_tagger), "--device", "cpu",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert str(cut) in err
    assert "truncated" in err
    assert not (tmp_path / "out" / "output.zip").exists()


def test_skip_bad_files_counts_a_truncated_files_entries_as_failed(
    sample: Any, jet_tagger: Path, tmp_path: Path
) -> None:
    cut = _cut(sample.files[("qcd", "sparse")], tmp_path / "cut.root", "last basket")
    good = str(sample.files[("tau", "sparse")])
    fs = {
        "tau": {"files": {good: "Events"}, "metadata": {}},
        "qcd": {"files": {str(cut): "Events"}, "metadata": {}},
    }
    result = run(
        fs, [jet_tagger], chunksize=CHUNKSIZE, device="cpu", progress=False, skip_bad_files=True
    )
    (failure,) = result.failed
    assert (failure.file, failure.entry_start, failure.entry_stop) == (str(cut), 0, 40)
    assert result.expected == {good: 40, str(cut): 40}
    assert result.processed == 40
    assert result.processed + result.failed_entries == sum(result.expected.values())
    assert not result.complete
