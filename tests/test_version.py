"""The version is written once, in ``e2e_coffea/version.py``; the build reads it there."""

from __future__ import annotations

import tomllib
from pathlib import Path

import e2e_coffea
from e2e_coffea import version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_pyproject_takes_the_version_from_the_package() -> None:
    config = tomllib.loads(PYPROJECT.read_text())
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    assert config["tool"]["hatch"]["version"]["path"] == "e2e_coffea/version.py"


def test_the_package_version_is_the_one_in_version_py() -> None:
    assert e2e_coffea.__version__ is version.__version__
