"""What a ROOT file is (its identity) and whether it is whole, from metadata alone.

A file's name is not its identity: a hard link, a byte copy, or the same file as a local
path and as an ``http://`` URL are one file under two names, and counting it under both
doubles its events. ROOT writes a UUID into every file's header when it creates it, and
copies keep it, so (UUID, size) names the file whatever it is called.

A truncated file opens (its header, directory and tree metadata may all lie before the
cut) and fails only when a chunk reaches a missing basket. Its header records where the
file ends (``fEND``) and the tree records where each basket lies; comparing both with the
file's real size finds the cut before any chunk runs, without decompressing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FileIdentity", "file_identity", "file_size", "truncation_reason"]


@dataclass(frozen=True)
class FileIdentity:
    """A ROOT file's UUID (from its header) and its size in bytes (None when the source
    cannot say, e.g. a server without a length)."""

    uuid: str
    size: int | None


def file_size(f: Any) -> int | None:
    """The byte size of an open uproot file: the local file's, or the length the server
    reports for a URL; None when it cannot be had."""
    try:
        n = f.file.source.num_bytes
    except Exception:  # a remote source that cannot say: no size check, no refusal
        return None
    return int(n) if n is not None else None


def file_identity(f: Any) -> FileIdentity:
    """The identity of an open uproot file (``uproot.open(path)``)."""
    return FileIdentity(str(f.file.uuid), file_size(f))


def truncation_reason(f: Any, tree: Any | None, size: int | None) -> str | None:
    """Why the file is cut short, or None when it is whole as far as its metadata says.

    ``f`` is the open file, ``tree`` its TTree (None to check only the header) and
    ``size`` its real size in bytes (:func:`file_size`)."""
    if size is None:
        return None
    end = int(f.file.fEND)
    if size < end:
        return f"truncated: {size} bytes, but its header says the file ends at byte {end}"
    if tree is None:
        return None
    for branch in tree.itervalues(recursive=True):
        n = int(branch.member("fWriteBasket"))  # baskets on disk; a later one lives in the tree
        if n <= 0:
            continue
        seeks = branch.member("fBasketSeek")[:n]
        nbytes = branch.member("fBasketBytes")[:n]
        stop = max(int(s) + int(b) for s, b in zip(seeks, nbytes, strict=True))
        if stop > size:
            return (
                f"truncated: branch {branch.name!r} has a basket ending at byte {stop}, "
                f"past the file's end ({size} bytes)"
            )
    return None
