"""Imports follow the data flow downwards and never reach into another package's privates.

The stages, lowest first (the project's layering rule): exceptions/geometry -> layouts ->
io -> sim, frames -> models -> export -> train -> inference -> processor -> runner ->
hists -> facility, dashboards -> cli. A module may import its own stage or any lower one.
Every import counts: absolute and relative, at module level or inside a function (a lazy
import is still a dependency), and a string naming an ``e2e_coffea`` module (what
``importlib.import_module`` receives). The modules are read from the installed package, so
this also checks the wheel.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import e2e_coffea

PACKAGE = "e2e_coffea"
SOURCE = Path(e2e_coffea.__file__).parent

# stage (first name below e2e_coffea) -> rank; imports may only go to an equal or lower rank
STAGE_RANK: dict[str, int] = {
    "exceptions": 0,
    "geometry": 0,
    "version": 0,
    "layouts": 1,
    "io": 2,
    "sim": 3,
    "frames": 3,
    "models": 4,
    "export": 5,
    "train": 6,
    "inference": 7,
    "processor": 8,
    "runner": 9,
    "hists": 10,
    "facility": 11,
    "dashboards": 11,
    "cli": 12,
}

MODULE_NAME = re.compile(rf"{PACKAGE}(\.[A-Za-z_]\w*)+")


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``target`` at ``line`` (``how`` is 'import' or 'by name')."""

    importer: str
    target: str
    line: int
    how: str

    def __str__(self) -> str:
        by = " (by name)" if self.how == "by name" else ""
        return f"{self.importer}:{self.line} -> {self.target}{by}"


def package_modules() -> dict[str, Path]:
    """Dotted name -> file for every module of the package (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def stage_of(module: str) -> str | None:
    """``e2e_coffea.frames._chunk`` -> ``frames``; the root package has no stage."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    """Every ``e2e_coffea`` module that ``module`` imports, wherever the import sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    yield Edge(module, alias.name, node.lineno, "import")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if not _ours(source):
                continue
            for alias in node.names:
                # `from pkg import sub` imports the module pkg.sub; otherwise a name of pkg
                sub = f"{source}.{alias.name}"
                yield Edge(module, sub if sub in modules else source, node.lineno, "import")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MODULE_NAME.fullmatch(node.value)
            and node.value in modules
        ):
            yield Edge(module, node.value, node.lineno, "by name")


def type_checking_lines(path: Path) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: imports there never run."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                cycles.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(cycles)


def all_edges() -> list[Edge]:
    """Each import once (``from m import a, b`` is one edge), sorted by importer and line."""
    modules = package_modules()
    edges = {
        edge
        for module, path in modules.items()
        if module != PACKAGE  # the root __init__ may re-export from anywhere
        for edge in imports_of(module, path, modules)
    }
    return sorted(edges, key=lambda e: (e.importer, e.line, e.target))


def is_upward(edge: Edge) -> bool:
    low, high = stage_of(edge.importer), stage_of(edge.target)
    if low not in STAGE_RANK or high not in STAGE_RANK:
        return False  # unranked modules fail test_every_module_has_a_stage instead
    return STAGE_RANK[high] > STAGE_RANK[low]


def reaches_into_private(edge: Edge) -> bool:
    """The target has a ``_private`` part whose package does not contain the importer."""
    parts = edge.target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:i])
            if not (edge.importer == owner or edge.importer.startswith(owner + ".")):
                return True
    return False


def test_every_module_has_a_stage() -> None:
    modules = package_modules()
    stages = {stage_of(m) for m in modules} - {None}
    unknown = sorted(stages - STAGE_RANK.keys())
    assert not unknown, (
        f"no stage for {[f'{PACKAGE}.{s}' for s in unknown]}: move each into a stage package "
        "or give it a rank in STAGE_RANK (tests/test_layering.py)"
    )


def test_the_checker_sees_relative_local_and_by_name_imports(tmp_path: Path) -> None:
    """The edge finder must resolve the import forms the package uses, or it proves nothing."""
    mod = tmp_path / "mod.py"
    mod.write_text(
        "from .. import geometry as geo\n"
        "from . import _chunk\n"
        "from ..cli import run\n"
        "def f():\n"
        "    from ..io._arrays import x\n"
        "    import e2e_coffea.runner\n"
        "    return 'e2e_coffea.hists.roc'\n"
    )
    names = ("geometry", "frames._chunk", "cli.run", "io._arrays", "runner", "hists.roc")
    known = {f"{PACKAGE}.{name}": mod for name in names}
    edges = sorted(imports_of(f"{PACKAGE}.frames.mod", mod, known), key=lambda e: e.line)
    assert [(e.target, e.line, e.how) for e in edges] == [
        (f"{PACKAGE}.geometry", 1, "import"),
        (f"{PACKAGE}.frames._chunk", 2, "import"),
        (f"{PACKAGE}.cli.run", 3, "import"),
        (f"{PACKAGE}.io._arrays", 5, "import"),
        (f"{PACKAGE}.runner", 6, "import"),
        (f"{PACKAGE}.hists.roc", 7, "by name"),
    ]
    assert [is_upward(e) for e in edges] == [False, False, True, False, True, True]
    assert [reaches_into_private(e) for e in edges] == [False, False, False, True, False, False]


def test_imports_point_down_and_stay_out_of_private_modules() -> None:
    edges = all_edges()
    bad = [f"upward   {e}" for e in edges if is_upward(e)]
    bad += [f"private  {e}" for e in edges if reaches_into_private(e)]
    assert not bad, (
        "imports must point down the stages and never into another package's _private "
        "module:\n  " + "\n  ".join(bad)
    )


# error classes that may live outside exceptions.py, and why
ERRORS_ELSEWHERE = {
    # carries the RunReport of the stopped run: a hists type the lowest stage cannot name
    "e2e_coffea.hists.report": {"IncompleteRunError"},
}


def defined_errors(path: Path) -> set[str]:
    """Classes at a module's top level named ``...Error`` (the package's naming rule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Error")}


def test_error_classes_live_in_exceptions() -> None:
    stray = {
        module: sorted(errors - ERRORS_ELSEWHERE.get(module, set()))
        for module, path in package_modules().items()
        if module != f"{PACKAGE}.exceptions" and (errors := defined_errors(path))
    }
    stray = {module: errors for module, errors in stray.items() if errors}
    assert not stray, f"define error classes in {PACKAGE}/exceptions.py: {stray}"


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert import_cycles(edges) == [["a", "b", "c"], ["e"]]


def test_no_import_cycle_between_files() -> None:
    """No module reaches itself through imports, wherever they sit (a lazy import in a
    function is still a dependency) and the root package included: its lazy re-exports
    reach every stage, so a module importing ``e2e_coffea`` itself closes a cycle.
    ``if TYPE_CHECKING:`` imports never run and do not count."""
    modules = package_modules()
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        skip = type_checking_lines(path)
        for edge in imports_of(module, path, modules):
            if edge.line not in skip and edge.target != module:
                edges.setdefault(module, set()).add(edge.target)
    cycles = import_cycles(edges)
    assert not cycles, "import cycles between modules:\n  " + "\n  ".join(
        " <-> ".join(group) for group in cycles
    )


def test_every_module_declares_its_public_names() -> None:
    """``__all__`` in every module and package: what a star import or the docs take."""

    def declares_all(path: Path) -> bool:
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = [
            t
            for n in tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        ]
        return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)

    missing = sorted(m for m, path in package_modules().items() if not declares_all(path))
    assert not missing, f"no __all__ in {missing}"
