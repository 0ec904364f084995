"""Where a file lives: a local path, or a URL uproot reads remotely (``root://``, ``https://``).

Remote files must pass through every command unchanged: never made into a ``Path``
(which would fold ``https://`` into ``https:/``), never resolved against the working
directory, never required to exist locally. Their existence is checked when uproot
opens them, with the URL in the message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["REMOTE_SCHEMES", "is_remote", "normalise_location"]

REMOTE_SCHEMES: Final = ("root://", "http://", "https://", "s3://", "gs://", "xroot://")


def is_remote(location: str | os.PathLike[str]) -> bool:
    """True for a URL uproot opens remotely (``root://``, ``https://`` ...).

    Schemes are case-insensitive (RFC 3986): ``HTTP://host/f.root`` is a URL, not a
    local file named ``HTTP:``."""
    return os.fspath(location).lower().startswith(REMOTE_SCHEMES)


def _lower_scheme(url: str) -> str:
    """``HTTP://host/F.root`` as ``http://host/F.root``: one spelling per URL."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.lower()}{sep}{rest}"


def normalise_location(
    location: str | os.PathLike[str], base: str | os.PathLike[str] | None = None
) -> str:
    """A URL unchanged but for its scheme, in lower case; a local path made absolute
    (against ``base`` when relative) and normalised (``..``, symlinks), so the same file
    always has the same name. ``file://`` URLs become plain paths."""
    text = os.fspath(location)
    if is_remote(text):
        return _lower_scheme(text)
    if text.lower().startswith("file://"):
        text = text[len("file://") :]
    p = Path(text).expanduser()
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    return str(p.resolve())
