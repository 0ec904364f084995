"""README snippets run as written, and its statements about the tests and tools hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from e2e_coffea.processor.booking import book_score_hists, fill_scores
from e2e_coffea.processor.serialize import save_output

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")

NO_PACKAGE = "import sys; sys.modules['e2e_coffea'] = None  # importing it now fails\n"
"""Run first, so that the snippet provably reads without e2e-coffea."""


def _after(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert m is not None, f"README has no block after <!-- {marker} -->"
    return m.group(1)


def test_output_zip_reads_with_hist_and_uhi_alone(tmp_path: Path) -> None:
    snippet = _after("read-output-zip")
    assert "e2e_coffea" not in snippet
    code = [line for line in snippet.splitlines() if line and not line.startswith("import")]
    assert len(code) == 3  # short enough to copy
    hists = book_score_hists()
    w = np.r_[np.full(5, 2.0), np.full(7, 0.5)]
    fill_scores(
        hists, dataset="tau", tagger="t", labels=np.r_[np.full(5, 2), np.full(7, 0)],
        scores=np.linspace(0, 1, 12), pt=np.full(12, 50.0), eta=np.zeros(12), weight=w,
    )  # fmt: skip
    (tmp_path / "results").mkdir()
    save_output({"hists": hists, "entries": {"tau": 12}}, tmp_path / "results")
    check = (
        "\nassert 'e2e_coffea' not in {m.split('.')[0] for m in sys.modules if sys.modules[m]}"
        "\nprint(score.sum().value, score.sum().variance, tree['entries'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", NO_PACKAGE + snippet + check],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["13.5", "21.75", "{'tau':", "12}"]


def test_the_dev_block_upgrades_pip_before_using_groups() -> None:
    block = README.split("## Tests, benchmarks and development", 1)[1].split("```bash", 1)[1]
    lines = block.split("```", 1)[0].strip().splitlines()
    upgrade = next(i for i, line in enumerate(lines) if 'pip install -U "pip>=25.1"' in line)
    group = next(i for i, line in enumerate(lines) if "--group dev" in line)
    assert upgrade < group  # pip 23 (what a fresh venv may hold) does not know --group


def test_the_readme_states_the_test_time_and_venv_size_honestly() -> None:
    section = README.split("## Tests, benchmarks and development", 1)[1].split("\n## ", 1)[0]
    assert "about 8 minutes" not in section
    assert "10\u201315 minutes on 2 cores" in section  # an en dash
    assert "about 3 GB" in section


def test_the_inline_calls_name_every_argument_and_run() -> None:
    """The README's inline calls are complete: job_script renders a real job script, and
    EventDisplay.from_run is shown with the three arguments it needs."""
    from e2e_coffea.dashboards.event_display import EventDisplay
    from e2e_coffea.facility import job_script, load_cluster_config

    call = re.search(r"`(job_script\(load_cluster_config\([^`]*\))`", README.replace("\n", " "))
    assert call is not None
    script = eval(  # the README's own expression, with the names it says to import
        call.group(1),
        {"job_script": job_script, "load_cluster_config": load_cluster_config},
    )
    assert "dask" in script.lower()
    shown = re.search(r"`EventDisplay\.from_run\(([^`]*)\)`", README.replace("\n", " "))
    assert shown is not None
    import inspect

    required = [
        p
        for p in inspect.signature(EventDisplay.from_run).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    assert len(shown.group(1).split(",")) >= len(required)
