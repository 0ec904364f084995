"""Strict YAML for the files a user writes (branch profiles, facility configs).

``yaml.safe_load`` builds no objects, but it still expands aliases: a 363-byte tree of
aliases ran 195 s and died with tracebacks. It also lets the last of two equal keys win.
Here aliases and anchors are refused (none of our files needs them), a key named twice
is refused naming it, and nesting and size are bounded, each with one
:class:`~e2e_coffea.exceptions.MalformedInputError` line naming the file.
"""

from __future__ import annotations

import os
from typing import Any, Final

import yaml

from ..exceptions import MalformedInputError
from .jsonfiles import MAX_DEPTH, read_regular

__all__ = ["MAX_YAML_BYTES", "loads_yaml", "read_yaml"]

MAX_YAML_BYTES: Final = 1024 * 1024
"""Largest YAML file read: profiles and facility configs are a few kilobytes."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` without aliases or anchors, with unique keys and a depth bound."""

    def __init__(self, stream: str, source: str, max_depth: int) -> None:
        super().__init__(stream)
        self.source = source
        self.max_depth = max_depth
        self.depth = 0

    def _where(self, mark: Any) -> str:
        return f"{self.source}: line {mark.line + 1}" if mark is not None else self.source

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            msg = f"{self._where(event.start_mark)}: YAML alias *{event.anchor} refused (write the value out)"
            raise MalformedInputError(msg)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            msg = f"{self._where(event.start_mark)}: YAML anchor &{anchor} refused (write the value out)"
            raise MalformedInputError(msg)
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                msg = f"{self._where(event.start_mark)}: nested deeper than {self.max_depth} levels"
                raise MalformedInputError(msg)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class words that error
                break
            if duplicate:
                msg = f"{self._where(key_node.start_mark)}: duplicate key {key!r} (YAML keeps only the last; name each key once)"
                raise MalformedInputError(msg)
        return super().construct_mapping(node, deep=deep)


def loads_yaml(
    text: str | bytes,
    *,
    source: str,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_YAML_BYTES,
) -> Any:
    """Parse one YAML document from outside, strictly (see the module docstring)."""
    if len(text) > max_bytes:
        msg = f"{source}: {len(text)} bytes of YAML, more than the {max_bytes} accepted"
        raise MalformedInputError(msg)
    try:
        stream = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as err:
        msg = f"{source}: not valid UTF-8 ({err.reason} at byte {err.start})"
        raise MalformedInputError(msg) from err
    loader = None
    try:
        loader = _StrictLoader(stream, source, max_depth)  # its reader refuses control characters
        return loader.get_single_data()
    except yaml.YAMLError as err:
        msg = f"{source}: not valid YAML ({' '.join(str(err).split())})"
        raise MalformedInputError(msg) from err
    except RecursionError as err:
        msg = f"{source}: nested deeper than {max_depth} levels"
        raise MalformedInputError(msg) from err
    except MalformedInputError:
        raise
    except ValueError as err:  # an integer of more than 4300 digits (Python's own bound)
        msg = f"{source}: not valid YAML ({' '.join(str(err).split())})"
        raise MalformedInputError(msg) from err
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_YAML_BYTES,
) -> Any:
    """Read and strictly parse the YAML file ``path`` (a regular file, bounded in size)."""
    data = read_regular(path, what=what, max_bytes=max_bytes)
    return loads_yaml(data, source=f"{what} {path}", max_depth=max_depth, max_bytes=max_bytes)
