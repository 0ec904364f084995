"""Work-arounds for coffea behaviour the main job cannot live with, each scoped and explained.

coffea 2026.x hashes a file's (dataset, path, tree) for its bookkeeping with
``bytes(";".join(...), "ascii")`` (``coffea.util._hash``), so a non-ASCII dataset name
or path (``/data/ünï/tàu.root``) stops the run with a ``UnicodeEncodeError`` that names
neither. The same digest over UTF-8 is identical for ASCII text and defined for the
rest; it is swapped in only while a run's Runner preprocesses and plans its chunks,
in the client process where that hashing happens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["unicode_safe_hashing", "utf8_hash"]


def utf8_hash(items: Iterable[Any]) -> int:
    """coffea's persistent hash, over UTF-8 instead of ASCII (equal for ASCII input)."""
    x = hashlib.md5(";".join(str(x) for x in items).encode("utf-8"), usedforsecurity=False)
    return int(x.hexdigest()[:16], base=16)


@contextmanager
def unicode_safe_hashing() -> Iterator[None]:
    """Within the block, coffea's executor module hashes with :func:`utf8_hash`."""
    from coffea.processor import executor

    original = executor._hash
    executor._hash = utf8_hash
    try:
        yield
    finally:
        executor._hash = original
