"""The Binder files: pins that parse and agree with pyproject, scripts that run here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"


def pins() -> dict[str, Requirement]:
    out = {}
    for raw in (BINDER / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            assert line == "--extra-index-url https://download.pytorch.org/whl/cpu", (
                f"unexpected option {line!r}"
            )
            continue
        req = Requirement(line)
        out[canonicalize_name(req.name)] = req
    return out


def test_requirements_pin_every_package_exactly():
    reqs = pins()
    for name, req in reqs.items():
        ops = [s.operator for s in req.specifier]
        assert ops == ["=="], f"{name} must be pinned with ==, got {req}"
    assert str(reqs["torch"].specifier) == "==2.13.0+cpu"
    assert "onnxruntime-gpu" not in reqs  # never beside onnxruntime


def test_pins_satisfy_pyproject_so_postbuild_installs_nothing_else():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = (
        project["dependencies"]
        + project["optional-dependencies"]["cpu"]
        + project["optional-dependencies"]["dashboard"]
    )
    reqs = pins()
    for line in wanted:
        dep = Requirement(line)
        name = canonicalize_name(dep.name)
        assert name in reqs, f"pyproject needs {dep} but binder/requirements.txt does not pin it"
        version = next(iter(reqs[name].specifier)).version
        assert dep.specifier.contains(version, prereleases=True), (
            f"pin {reqs[name]} violates pyproject's {dep}"
        )


@pytest.mark.parametrize("script", ["postBuild", "start"])
def test_scripts_are_executable_bash(script):
    path = BINDER / script
    assert os.access(path, os.X_OK), f"chmod +x binder/{script}"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(path)], check=True)


@pytest.mark.slow
def test_postbuild_generates_the_sample(tmp_path):
    if shutil.which("e2e-coffea") is None:
        pytest.fail("the e2e-coffea command is not on PATH: pip install the package first")
    out = tmp_path / "sample"
    env = {
        **os.environ,
        "E2E_SKIP_INSTALL": "1",
        "E2E_BINDER_EVENTS": "5",
        "E2E_BINDER_SAMPLE": str(out),
    }
    subprocess.run(
        [str(BINDER / "postBuild")], cwd=REPO, env=env, check=True, timeout=300, capture_output=True
    )
    fileset = json.loads((out / "fileset.sparse.json").read_text())
    assert sorted(fileset) == ["qcd", "tau"]
    assert all((out / p).is_file() for e in fileset.values() for p in e["files"])
    assert (out / "fileset.e2e.json").is_file()


def test_start_points_the_notebooks_at_the_sample_and_opens_the_quickstart():
    probe = "import os, sys; print(os.environ['E2E_SAMPLE']); print(sys.argv[1:])"
    env = {k: v for k, v in os.environ.items() if k != "E2E_SAMPLE"}
    done = subprocess.run(
        [str(BINDER / "start"), sys.executable, "-c", probe],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    sample, argv = done.stdout.splitlines()
    assert sample == str(REPO / "samples" / "quickstart")
    assert argv == "['--ServerApp.default_url=/lab/tree/notebooks/01_quickstart.ipynb']"
