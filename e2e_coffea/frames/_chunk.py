"""Transitional alias of :mod:`e2e_coffea.io.arrays` (chunk access moved down to io)."""

from __future__ import annotations

from ..io.arrays import *  # noqa: F403
from ..io.arrays import __all__  # noqa: F401
