"""Training's own error: the loop stopped on purpose and says why."""

from __future__ import annotations

from ..exceptions import E2EError

__all__ = ["TrainingError"]


class TrainingError(E2EError, RuntimeError):
    """Training cannot go on: a non-finite loss, an unusable checkpoint, or empty data."""
