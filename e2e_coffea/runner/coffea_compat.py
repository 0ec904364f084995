"""The two places the main job leans on coffea internals, each scoped, explained and tested.

coffea offers no public hook for either, so both are documented work-arounds under the
coffea range pinned in ``pyproject.toml`` (``coffea>=2026.9,<2027``; checked against
2026.9.0). ``tests/runner/test_coffea_compat.py`` fails the day coffea renames the private
name or rewords the message, so neither can silently stop working.

**ASCII hashing.** coffea hashes a file's (dataset, path, tree) for its bookkeeping with
``hashlib.md5(bytes(";".join(...), "ascii"))`` in ``coffea.util._hash``, imported by name
into ``coffea.processor.executor`` and called from ``FileMeta.__hash__`` (every file the
Runner preprocesses) and ``DaskExecutor`` worker affinity. A non-ASCII dataset name or
path (``/data/ünï/tàu.root``) stops the run with a ``UnicodeEncodeError`` that names
neither. No upstream issue or pull request for it was found (searched coffea's GitHub
issues, December 2026). Renaming datasets before coffea and back after would not cover
paths, which are opened by that name. So :func:`unicode_safe_hashing` swaps the same digest
over UTF-8 (identical for ASCII text, defined for the rest) into
``coffea.processor.executor._hash`` while a Runner preprocesses and plans its chunks, in the
client process where that hashing happens.

**Failure text.** A chunk that raises inside coffea's ``Runner._work_function`` is re-raised
as a bare ``Exception(f"Failed processing file: {item!r}. The error was: {e!r}.")`` (also
"Failed to open file" and "Failed creating nanoevents"). The original is only its
``__cause__``, lost when the exception crosses a process (Futures, Dask), and coffea
attaches no ``WorkItem`` attribute. The message is therefore the one carrier of the file and
entry range; :func:`failure_line` reads them from it and falls back to the plain text.
coffea reports a chunk it skips (``skipbadfiles``) only as the warning "Skipping bad file
after N attempts. The last exception was: ..." (``Runner.automatic_retries``), the same
text again: :func:`work_item_span` is the one reader of the ``WorkItem`` in both.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["failure_line", "unicode_safe_hashing", "utf8_hash", "work_item_span"]

PATCHED_NAME = "_hash"
"""The private name in ``coffea.processor.executor`` that :func:`unicode_safe_hashing` swaps."""


def utf8_hash(items: Iterable[Any]) -> int:
    """coffea's persistent hash, over UTF-8 instead of ASCII (equal for ASCII input)."""
    x = hashlib.md5(";".join(str(x) for x in items).encode("utf-8"), usedforsecurity=False)
    return int(x.hexdigest()[:16], base=16)


@contextmanager
def unicode_safe_hashing() -> Iterator[None]:
    """Within the block, coffea's executor module hashes with :func:`utf8_hash`."""
    from coffea.processor import executor

    original = getattr(executor, PATCHED_NAME)
    setattr(executor, PATCHED_NAME, utf8_hash)
    try:
        yield
    finally:
        setattr(executor, PATCHED_NAME, original)


_WORK_ITEM = re.compile(
    r"""filename=(?P<file>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    r".*?entrystart=(?P<a>\d+), entrystop=(?P<b>\d+)"
)
"""coffea's ``WorkItem(...)`` repr: the file name is a Python string literal, in double
quotes when it holds a ``'`` and with escapes when it holds both kinds of quote."""


def work_item_span(text: str) -> tuple[str, int, int] | None:
    """(file, entry start, entry stop) of the first ``WorkItem(...)`` repr in coffea's text."""
    m = _WORK_ITEM.search(text)
    if m is None:
        return None
    try:  # the literal back to the name as the user wrote it, whatever its quotes
        name = str(ast.literal_eval(m["file"]))
    except (ValueError, SyntaxError):
        name = m["file"]
    return name, int(m["a"]), int(m["b"])


def failure_line(err: BaseException) -> str:
    """coffea's "Failed processing file: WorkItem(...). The error was: X" as
    "file F, entries a-b: X" (the remote traceback stays out of the message)."""
    text = " ".join(str(err).split())
    span = work_item_span(text)
    cause = (
        text.split("The error was:", 1)[-1].strip().rstrip(".")
        if "The error was:" in text
        else text
    )
    cause = re.sub(r"^[A-Za-z_.]*Error\((['\"])(.*)\1\)$", r"\2", cause)  # ErrorType('msg') -> msg
    if span is None:
        return f"the run failed: {type(err).__name__}: {cause}"
    name, start, stop = span
    return f"file {name}, entries {start}-{stop}: {cause}"
