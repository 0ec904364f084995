"""Sphinx extension: one API page per public module of e2e_coffea, generated at build time.

Why not autosummary's ``:recursive:``: a package's ``__init__`` re-exports names from its
modules, and autodoc would then describe each of them twice (a duplicate-object warning,
an error under ``-W``). Here every public name is described once, in its *home*: the
module that defines it (or, for a name defined in a private ``_module``, the deepest public
module that exports it). Other modules list it in a table that links to the home, and a
reference to any public spelling (``e2e_coffea.Tagger``, ``e2e_coffea.inference.Tagger``)
resolves to the home's entry. The page list comes from walking the package, so renaming
or adding a module needs no change here.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

__all__ = ["setup"]

PACKAGE = "e2e_coffea"
OUT = "docs/_api"  # relative to the source directory; generated, ignored by git


def _public_modules() -> list[str]:
    """Every importable module of the package whose dotted name has no ``_`` part."""
    root = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{PACKAGE}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _tree(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module))


def _defined(tree: ast.Module) -> set[str]:
    """Top-level names a module binds itself (def, class, assignment), also inside if/try."""
    names: set[str] = set()
    for node in _top_level(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The module's top-level statements, including those inside if/try (TYPE_CHECKING)."""
    found: list[ast.stmt] = []
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.If | ast.Try):
            nested = node.body + node.orelse + getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                nested += handler.body
            stack += reversed(nested)
    return found


def _imports(module: str, tree: ast.Module) -> dict[str, tuple[str, str]]:
    """``name -> (source module, name there)`` for the module's ``from`` imports."""
    package = module if Path(_file(module)).name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, tuple[str, str]] = {}
    for node in _top_level(tree):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            source = (
                (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            )
            for alias in node.names:
                found.setdefault(alias.asname or alias.name, (str(source), alias.name))
    return found


def _file(module: str) -> str:
    return str(importlib.import_module(module).__file__)


class _Surface:
    """Who exports what, and where each public name is described."""

    def __init__(self) -> None:
        self.modules = _public_modules()
        self.exports: dict[str, list[str]] = {}
        self.defined: dict[str, set[str]] = {}
        self.imported: dict[str, dict[str, tuple[str, str]]] = {}
        for name in self.modules:
            module = importlib.import_module(name)
            tree = _tree(module)
            self.defined[name] = _defined(tree)
            self.imported[name] = _imports(name, tree)
            exported = getattr(module, "__all__", None)
            if exported is None:
                exported = sorted(n for n in self.defined[name] if not n.startswith("_"))
            # submodules in __all__ have pages of their own (the package's toctree)
            self.exports[name] = [
                n for n in exported if not inspect.ismodule(getattr(module, n, None))
            ]
        # origin (module, name) -> home module, and every public spelling -> home spelling
        self.home: dict[tuple[str, str], str] = {}
        for module in sorted(self.modules, key=lambda m: (-m.count("."), m)):
            for name in self.exports[module]:
                origin = self.origin(module, name)
                if origin[0] in self.modules and origin[1] in self.exports[origin[0]]:
                    self.home[origin] = origin[0]
                else:  # defined in a private module: the deepest public exporter
                    self.home.setdefault(origin, module)
        self.alias: dict[str, str] = {}
        for module in self.modules:
            for name in self.exports[module]:
                origin = self.origin(module, name)
                target = f"{self.home[origin]}.{origin[1]}"
                if f"{module}.{name}" != target:
                    self.alias[f"{module}.{name}"] = target

    def origin(self, module: str, name: str) -> tuple[str, str]:
        """The module that binds ``name`` itself: a class's or function's own
        ``__module__``, else found by following ``from`` imports (a constant, an alias)."""
        obj = getattr(importlib.import_module(module), name, None)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            home = getattr(obj, "__module__", "")
            if home.startswith(f"{PACKAGE}.") and "." not in obj.__qualname__:
                return home, obj.__qualname__
        seen = set()
        while (module, name) not in seen:
            seen.add((module, name))
            if module not in self.defined:
                try:
                    tree = _tree(importlib.import_module(module))
                except (ImportError, OSError, TypeError):
                    return module, name
                self.defined[module] = _defined(tree)
                self.imported[module] = _imports(module, tree)
            if name in self.defined[module] or name not in self.imported[module]:
                return module, name
            module, name = self.imported[module][name]
        return module, name

    def page(self, module: str) -> str:
        """The reST of one module's page."""
        own = [n for n in self.exports[module] if self.home[self.origin(module, n)] == module]
        others = [n for n in self.exports[module] if n not in own]
        children = [m for m in self.modules if m.rpartition(".")[0] == module and m != module]
        lines = [f"``{module}``", "=" * (len(module) + 4), ""]
        lines += [f".. automodule:: {module}", "   :no-members:", ""]
        if children:
            lines += [".. toctree::", "   :maxdepth: 1", ""]
            lines += [f"   {child}" for child in children] + [""]
        if others:
            # plain links: an autosummary table would render each summary line here, out
            # of its module, where its relative references point nowhere
            links = ", ".join(f":py:obj:`{name} <{module}.{name}>`" for name in others)
            lines += [f"Also here, described where they are defined: {links}.", ""]
        for name in own:
            lines += [_directive(module, name), ""]
        return "\n".join(lines) + "\n"


def _directive(module: str, name: str) -> str:
    obj = getattr(importlib.import_module(module), name)
    if inspect.isclass(obj):
        kind, options = "autoclass", ["   :members:", "   :undoc-members:", "   :show-inheritance:"]
        if issubclass(obj, BaseException):
            kind = "autoexception"
    elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
        kind, options = "autofunction", []
    else:
        kind, options = "autodata", ["   :no-value:"]
    return "\n".join([f".. {kind}:: {module}.{name}", *options])


_SURFACE: _Surface | None = None


def _generate(app: Sphinx) -> None:
    global _SURFACE  # one walk per build, shared with the resolver
    _SURFACE = _Surface()
    out = Path(app.srcdir) / OUT
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for module in _SURFACE.modules:
        (out / f"{module}.rst").write_text(_SURFACE.page(module))


def _find(dotted: str) -> tuple[bool, Any]:
    """Import the longest module prefix of ``dotted`` and get the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return False, None
        return True, obj
    return False, None


def _spellings(surface: _Surface, target: str, context: str | None) -> list[str]:
    """What ``target`` can mean where it is written: as it stands, in the module's
    namespace, or through the module's own imports (``Tagger`` where the module imports
    it; also under ``if TYPE_CHECKING``); each mapped to the name's home."""
    target = target.lstrip(".~")
    found = [target]
    if context:
        found.append(f"{context}.{target}")
        head, _, rest = target.partition(".")
        surface.origin(context, head)  # loads a private module's imports too
        if head in surface.imported.get(context, {}):
            source, name = surface.origin(context, head)
            found.append(f"{source}.{name}" + (f".{rest}" if rest else ""))
    homes = []
    for spelling in found:
        head, rest = spelling, ""
        while head and head not in surface.alias:
            head, _, last = head.rpartition(".")
            rest = f".{last}{rest}"
        homes.append(surface.alias[head] + rest if head else spelling)
    return list(dict.fromkeys(found + homes))


def _resolve(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """A reference Sphinx could not find: try the spellings above. A type variable or a
    private object that exists (in a signature, say) is shown as text; anything else
    stays unresolved, and the nitpicky build fails on it. So does an object of another
    library that the module imports (``Path``, ``pathlib.Path``): it exists, and it is not
    ours to document (the build is offline: no intersphinx)."""
    if node.get("refdomain") != "py" or _SURFACE is None:
        return None
    target = str(node["reftarget"])
    if target.count("[") > target.count("]"):
        # A fragment: where Sphinx cannot parse a signature (a dataclass field's
        # ``default_factory`` shows as ``<factory>``), it cuts the annotations at the
        # commas, ``dict[str, int]`` into ``dict[str`` and ``int]``. Text, when the
        # generic's own name exists.
        outer = target.split("[", 1)[0].lstrip("~")
        if _find(outer)[0] or hasattr(builtins, outer):
            return contnode
    domain = env.get_domain("py")
    spellings = _spellings(_SURFACE, str(node["reftarget"]), node.get("py:module"))
    for spelling in spellings:
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, "obj", spelling, node, contnode
        )
        if found is not None:
            return found
    for spelling in spellings:
        exists, obj = _find(spelling)
        ours = spelling.startswith(f"{PACKAGE}.")
        private = any(part.startswith("_") for part in spelling.split("."))
        if exists and (not ours or private or isinstance(obj, TypeVar)):
            return contnode
    return None


def _drop_type_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A constant without a doc comment would show its type's docstring (``dict``'s)."""
    if what in ("data", "attribute") and not inspect.isclass(obj):
        # also a generic alias (``dict[str, Any]``), whose __doc__ is its origin's
        inherited = {type(obj).__doc__, getattr(getattr(obj, "__origin__", None), "__doc__", None)}
        if obj.__doc__ in inherited - {None}:
            lines.clear()


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _drop_type_docstring)
    app.connect("builder-inited", _generate)
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
