"""Write a file whole or not at all: the one temporary-file-and-rename helper.

Every file the package writes for someone else to read (contracts, ONNX models, run
outputs, checkpoints, JSON) goes through :func:`atomic_write`: the bytes land in a hidden
temporary file in the same folder, which then replaces the target in one ``os.replace``.
A reader, a crash or a full disk never leaves half a file under the real name, and a
failed write leaves the old file as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "atomic_write", "atomic_write_bytes"]

TEMP_SUFFIX = ".tmp"
"""Temporary files are ``.<name>.<random>.tmp`` beside their target."""


@contextmanager
def atomic_write(
    path: str | os.PathLike[str], *, private: bool = False, durable: bool = False
) -> Iterator[Path]:
    """Yield a new, empty temporary path beside ``path``; write it (yourself, or by handing
    the path to ``torch.save`` or ``onnx.save``), and on a clean exit it replaces ``path``.
    On an error it is removed and ``path`` is untouched.

    ``private``: the file is created with mode 0o600 (else 0o666 less the umask, as any
    new file). ``durable``: its data is flushed to disk (``fsync``) before the rename, so
    a power cut cannot leave the new name on an empty file."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    os.close(fd)
    try:
        yield tmp
        if durable:
            with tmp.open("rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, private: bool = False, durable: bool = False
) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_write`; return the path."""
    with atomic_write(path, private=private, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)
