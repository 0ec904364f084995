"""Execute the tutorial notebooks headless, as a reader would, on tiny samples.

Parameters reach the notebooks through the environment (``E2E_TAGGER``, ``E2E_SAMPLE``,
...), which the kernel inherits; each notebook runs in its own temporary folder.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(name: str, cwd: Path, timeout: int = 300) -> Any:
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def outputs(nb: Any) -> list[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def widget_views(nb: Any) -> int:
    """Widgets a cell returned or displayed on purpose (coffea's progress bars are widgets too,
    shown as display_data next to an HTML twin; ours are results or displayed alone)."""
    n = 0
    for c in nb.cells:
        outs = c.get("outputs", []) if c.cell_type == "code" else []
        html_twins = sum(
            "text/html" in o.get("data", {}) for o in outs if o.output_type == "display_data"
        )
        views = [o for o in outs if WIDGET_VIEW in o.get("data", {})]
        n += sum(o.output_type == "execute_result" for o in views)
        n += max(sum(o.output_type == "display_data" for o in views) - html_twins, 0)
    return n


def text(nb: Any) -> str:
    parts = []
    for o in outputs(nb):
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_the_seven_notebooks_are_there():
    assert ALL == [
        "01_quickstart.ipynb",
        "02_event_display.ipynb",
        "03_dask_distributed.ipynb",
        "04_gpu_inference.ipynb",
        "05_train_and_export.ipynb",
        "06_facility.ipynb",
        "07_analysis.ipynb",
    ]


@pytest.mark.parametrize("name", ALL)
def test_committed_notebooks_parse_and_have_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: clear the outputs"
            assert cell.execution_count is None, f"{name}: clear the execution counts"
            ast.parse(cell.source)  # plain Python, no magics
    if name != "06_facility.ipynb":
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert ["parameters"] in tags, f"{name} needs a cell tagged 'parameters'"


@pytest.fixture
def env(monkeypatch, sample, notebook_tagger):
    """Defaults for every executed notebook: the shared sample and the test tagger."""
    monkeypatch.setenv("E2E_TAGGER", notebook_tagger)
    monkeypatch.setenv("E2E_SAMPLE", str(sample.root))
    monkeypatch.setenv("E2E_CHUNKSIZE", "20")
    return monkeypatch


@pytest.mark.slow
def test_01_quickstart_generates_runs_and_plots(env, tmp_path):
    env.setenv("E2E_SAMPLE", "samples/quickstart")  # relative: generated inside tmp_path
    env.setenv("E2E_EVENTS", "20")
    nb = execute("01_quickstart.ipynb", tmp_path)
    assert (tmp_path / "samples" / "quickstart" / "fileset.sparse.json").is_file()
    out = text(nb)
    assert "complete: True" in out
    assert "AUC" in out
    assert any("image/png" in o.get("data", {}) for o in outputs(nb))  # the ROC plot
    assert widget_views(nb) == 1  # the performance dashboard


@pytest.mark.slow
def test_02_event_display_builds_both_displays(env, tmp_path):
    nb = execute("02_event_display.ipynb", tmp_path)
    assert (tmp_path / "runs" / "event_display" / "output.zip").is_file()
    assert widget_views(nb) == 2
    assert "reusing the sample" in text(nb)


@pytest.mark.slow
def test_03_dask_live_dashboard_agrees_with_the_batch_run(env, tmp_path):
    env.setenv("E2E_WORKERS", "1")
    nb = execute("03_dask_distributed.ipynb", tmp_path)
    out = text(nb)
    line = next(x for x in out.splitlines() if x.startswith("complete:"))
    batch, live = (
        float(x) for x in (line.split("batch ")[1].split(",")[0], line.split("live ")[1])
    )
    assert "complete: True" in line
    assert batch == live
    assert widget_views(nb) == 1


@pytest.mark.slow
def test_04_gpu_notebook_runs_on_a_cpu_and_says_so(env, tmp_path):
    nb = execute("04_gpu_inference.ipynb", tmp_path)
    out = text(nb)
    import torch

    if not torch.cuda.is_available():
        assert "No GPU inference here" in out
        assert "chunks per device: {'cpu':" in out
    assert "complete: True" in out


@pytest.mark.slow
def test_05_trains_exports_and_runs_the_new_tagger(env, tmp_path):
    env.setenv("E2E_EPOCHS", "1")
    env.setenv("E2E_MAX_OBJECTS", "60")
    nb = execute("05_train_and_export.ipynb", tmp_path)
    assert (tmp_path / "models" / "my_tau_simplenet.onnx").is_file()
    assert "validation AUC per epoch" in text(nb)
    assert widget_views(nb) == 1


@pytest.mark.slow
def test_07_analysis_with_the_tagger_api_on_dask(env, tmp_path):
    env.setenv("E2E_WORKERS", "1")
    nb = execute("07_analysis.ipynb", tmp_path)
    out = text(nb)
    assert "events: {'tau': 40, 'qcd': 40}" in out or "events: {'qcd': 40, 'tau': 40}" in out
    tagger = next(x for x in out.splitlines() if x.startswith("tagger:"))
    baseline = next(x for x in out.splitlines() if x.startswith("baseline:"))
    # the two selections are compared at the same QCD jet efficiency (within one bin)
    rate = [float(x.split("QCD jet efficiency ")[1].split(",")[0]) for x in (tagger, baseline)]
    assert abs(rate[0] - rate[1]) < 0.05
    assert sum("image/png" in o.get("data", {}) for o in outputs(nb)) == 2  # mass and pT plots
