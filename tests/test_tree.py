"""The test tree mirrors the package: ``tests/<pkg>/`` holds the tests of ``e2e_coffea/<pkg>/``.

A newcomer looks for a module's tests in the folder of the same name, so a folder under
``tests/`` must be a package folder of ``e2e_coffea`` (at any depth: ``tests/a/b/`` is
``e2e_coffea/a/b/``), or one of the few cross-cutting folders below, each of which tests a
top-level folder of the repository. Device tests and MLAnalyzer files are markers
(``-m gpu``, ``-m mlanalyzer``), not folders. Files directly under ``tests/`` are the
root package's and the project-wide checks, listed below too.
"""

from __future__ import annotations

from pathlib import Path

import e2e_coffea

TESTS = Path(__file__).resolve().parent
SOURCE = Path(e2e_coffea.__file__).resolve().parent

CROSS_CUTTING = {
    "benchmarks": "the scripts in benchmarks/ stay runnable and report what they claim",
    "notebooks": "the notebooks in notebooks/ run, and binder/ builds them",
    "tools": "the maintainer scripts in tools/",
}
"""Folders of tests that exercise a top-level folder of the repository, not a package."""
TOP_LEVEL = {
    "conftest.py": "the shared sample, taggers and device hooks",
    "test_api.py": "e2e_coffea.run, defined in e2e_coffea/__init__.py",
    "test_layering.py": "imports follow the data flow, over the whole package",
    "test_readme.py": "the README's commands",
    "test_readme_snippets.py": "the README's Python snippets",
    "test_tree.py": "this file",
    "test_version.py": "e2e_coffea/version.py, the version pyproject reads",
    "test_warnings.py": "pyproject's warning filters: only the cluster pipes are ignored",
}
"""Files allowed directly under tests/: the root package's tests and project-wide checks."""


def misplaced(tests: Path, source: Path) -> list[str]:
    """Every folder under ``tests`` that mirrors no package folder of ``source`` (and is not
    cross-cutting), and every file directly under ``tests`` that is not listed, with why."""
    found = []
    folders = {p.parent for p in tests.rglob("*.py")} - {tests}  # git keeps no empty folder
    for d in sorted({a for f in folders for a in [f, *f.parents] if tests in a.parents}):
        rel = d.relative_to(tests)
        if rel.parts[0] in CROSS_CUTTING:
            continue
        if not (source / rel / "__init__.py").is_file():
            found.append(f"tests/{rel.as_posix()}/: no package e2e_coffea/{rel.as_posix()}/")
    for f in sorted(p for p in tests.iterdir() if p.is_file() and p.suffix == ".py"):
        if f.name not in TOP_LEVEL:
            found.append(f"tests/{f.name}: belongs in the folder of the package it tests")
    return found


def test_every_test_folder_mirrors_a_package_folder() -> None:
    assert misplaced(TESTS, SOURCE) == []


def test_cross_cutting_folders_name_real_repository_folders() -> None:
    repo = TESTS.parent
    for name in CROSS_CUTTING:
        assert (TESTS / name).is_dir(), f"tests/{name}/ is allowed but gone: drop it here"
        assert (repo / name).is_dir(), f"tests/{name}/ tests {name}/, which does not exist"
    for name in TOP_LEVEL:
        assert (TESTS / name).is_file(), f"tests/{name} is allowed but gone: drop it here"


def test_a_stray_folder_or_file_is_named(tmp_path: Path) -> None:
    source, tests = tmp_path / "e2e_coffea", tmp_path / "tests"
    for pkg in ("io", "train", "train/data"):
        (source / pkg).mkdir(parents=True)
        (source / pkg / "__init__.py").touch()
    (source / "data").mkdir()  # package data, not a package: no tests/data/
    for d in ("io", "train/data", "gpu", "data/x", "notebooks", "mlanalyzer/__pycache__"):
        (tests / d).mkdir(parents=True)  # mlanalyzer/ holds no source: a leftover, ignored
    for f in ("conftest.py", "test_taggers.py", "io/test_e2e.py", "train/data/test_split.py"):
        (tests / f).touch()
    for f in ("gpu/test_oom.py", "data/x/test_norm.py", "notebooks/test_notebooks.py"):
        (tests / f).touch()
    assert misplaced(tests, source) == [
        "tests/data/: no package e2e_coffea/data/",
        "tests/data/x/: no package e2e_coffea/data/x/",
        "tests/gpu/: no package e2e_coffea/gpu/",
        "tests/test_taggers.py: belongs in the folder of the package it tests",
    ]
