"""The package's version, written once: ``pyproject.toml`` reads it at build time (hatch's
dynamic version), the package re-exports it as ``e2e_coffea.__version__``, and checkpoints
and contracts record it. A module of its own, below every stage, so that recording it
imports nothing else of the package."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
