"""The README holds on any machine: its commands, its example and the files it cites exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import awkward as ak
import pytest

from e2e_coffea.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _after(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->``."""
    m = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert m is not None, f"README has no block after <!-- {marker} -->"
    return m.group(1)


@pytest.mark.parametrize("marker", ["main-command", "test-command"])
def test_the_two_commands_work_on_a_fresh_machine(marker: str) -> None:
    cmd = _after(marker).strip()
    assert "\n" not in cmd  # one line, copy-pasteable
    # a fresh Debian python refuses a system-wide pip install: a venv first, torch pinned first
    assert cmd.startswith(
        "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && "
    )


def test_the_main_command_writes_what_the_readme_says() -> None:
    cmd = _after("main-command")
    assert "--out samples" in cmd
    assert "--fileset samples/fileset.json" in cmd
    assert "--tagger tau_simplenet" in cmd


def test_every_command_in_the_table_exists(capsys: Any) -> None:
    table = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"`e2e-coffea ([a-z-]+)", table))
    assert names >= {
        "generate",
        "frames",
        "train",
        "taggers",
        "contract",
        "run",
        "triton-repo",
        "doctor",
    }
    for name in sorted(names):
        assert main([name, "--help"]) == 0, name
    capsys.readouterr()


def test_every_cited_file_exists() -> None:
    cited = set(re.findall(r"\((docs/[\w./-]+|facility/README\.md)\)", README))
    cited |= set(re.findall(r"`(benchmarks/results/[^`{}*]+)`", README))
    cited |= set(re.findall(r"`(tools/[\w.-]+)`", README))
    cited |= set(re.findall(r"`(notebooks/\w+\.ipynb)`", README))
    missing = sorted(c for c in cited if not (REPO / c).exists())
    assert not missing, missing


def _run_block(marker: str, sample: Any, tmp_path: Path, monkeypatch: Any) -> dict[str, Any]:
    """A README block run verbatim where ``generate --out samples`` wrote its sample."""
    from coffea.nanoevents import NanoAODSchema

    monkeypatch.setattr(NanoAODSchema, "warn_missing_crossrefs", True)  # restored after
    (tmp_path / "samples").symlink_to(sample.root, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {"__name__": f"readme_{marker.replace('-', '_')}"}
    exec(compile(_after(marker), "README.md", "exec"), scope)
    return scope


@pytest.mark.slow
def test_the_tagger_example_runs_in_a_processor(
    sample: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """The README's analysis, Runner line included, run as written (NanoAODSchema)."""
    scope = _run_block("tagger-example", sample, tmp_path, monkeypatch)
    h = scope["out"]["tau_pt"]
    assert h.axes[0].label == "tau-tagged jet pT [GeV]"
    assert 0 < h.sum(flow=True) < 80  # some, not all, of the sample's jets are tagged


@pytest.mark.parametrize(
    "marker",
    [
        "tagger-nanoevents",
        "tagger-ml-tools",
        pytest.param("tagger-dask", marks=pytest.mark.dask_awkward),
    ],
)
def test_the_tagger_blocks_run_as_written(
    marker: str, sample: Any, tmp_path: Path, monkeypatch: Any, request: Any
) -> None:
    if marker == "tagger-dask":
        request.getfixturevalue("dask_awkward_module")
    scope = _run_block(marker, sample, tmp_path, monkeypatch)
    if marker == "tagger-nanoevents":
        assert scope["tau"].stats["scored"] > 0  # eager and virtual both scored
        assert scope["score"].tolist() == scope["tau"](scope["events"]).tolist()
    elif marker == "tagger-ml-tools":
        assert len(scope["probs"]) == int(ak.count(scope["score"])) > 0
    else:  # the lazy tagged jets are the eager ones
        import uproot

        events = uproot.open(sample.files[("tau", "sparse")])["Events"].arrays()
        tagged = ak.fill_none(scope["tau"](events) > 0.5, False)
        assert scope["pts"]["tau"].tolist() == events["Jet_pt"][tagged].tolist()
