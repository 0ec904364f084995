#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2"]
# ///
"""Maintainer tasks: ``nox -s lint``, ``nox -s tests``, ``nox -s wheel`` (``nox -l`` lists them).

torch is installed first and pinned, as in the README. On a machine without this project's
local CPU wheel, ``pip install torch==2.13.0`` pulls the multi-GB CUDA build; set
``E2E_TORCH_INDEX=https://download.pytorch.org/whl/cpu`` to get the CPU-only wheel instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2025.2"
nox.options.default_venv_backend = "uv|virtualenv"

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
TORCH = "torch==2.13.0"
DIST = ROOT / "dist"


def _install_torch(session: nox.Session) -> None:
    index = os.environ.get("E2E_TORCH_INDEX")
    session.install(TORCH, *(["--index-url", index] if index else []))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, then mypy --strict on the package (mypy needs the package's dependencies)."""
    _install_torch(session)
    session.install("-e", ".[test]", *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite against a regular (not editable) install; ``-- ARGS`` go to pytest."""
    _install_torch(session)
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """The docs site (tools/build-docs.sh): doctests, then Sphinx, nitpicky, into build/docs."""
    _install_torch(session)
    session.install(".[test]", *nox.project.dependency_groups(PYPROJECT, "docs"))
    session.run("bash", "tools/build-docs.sh", *session.posargs, external=True)


@nox.session(name="dask-awkward", default=False)
def dask_awkward(session: nox.Session) -> None:
    """Tagger in coffea's dask mode: dask-awkward pins dask < 2025.4, so these tests skip
    in the main environment and run here, against the dask that coffea[dask-awkward] pulls."""
    _install_torch(session)
    session.install(".[test]", "coffea[dask-awkward]")
    session.run("pytest", "tests/inference/test_coffea_modes.py", *session.posargs)


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """sdist, then the wheel built from that sdist, into dist/."""
    shutil.rmtree(DIST, ignore_errors=True)
    session.install("build>=1.2")
    session.run("python", "-m", "build", "--outdir", str(DIST))


@nox.session(default=False, requires=["build"])
def wheel(session: nox.Session) -> None:
    """Install the built wheel in a fresh environment and smoke-test it from outside the tree."""
    (whl,) = DIST.glob("e2e_coffea-*.whl")
    _install_torch(session)
    session.install(f"{whl}[cpu]")
    tmp = session.create_tmp()
    session.chdir(tmp)  # away from the checkout, whose e2e_coffea/ would shadow the wheel
    session.run(
        "python",
        "-c",
        "import e2e_coffea, e2e_coffea.runner, e2e_coffea.cli; "
        "from pathlib import Path; "
        "where = Path(e2e_coffea.__file__).parent; "
        "assert 'site-packages' in where.parts, where; "
        "assert (where / 'py.typed').is_file(), 'py.typed missing from the wheel'; "
        "assert sorted((where / 'data' / 'taggers').glob('*.onnx')), 'shipped taggers missing'; "
        "print('e2e_coffea', e2e_coffea.__version__, 'from', where)",
    )
    session.run("e2e-coffea", "--help")


if __name__ == "__main__":
    nox.main()
