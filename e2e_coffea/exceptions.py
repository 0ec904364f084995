"""One base error, specific subclasses: callers can catch E2EError, tests can be precise."""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "BadTypeError",
    "ChannelError",
    "ContractError",
    "E2EError",
    "EmptyChunkError",
    "FileLayoutError",
    "GenerationError",
    "MalformedInputError",
    "MissingBranchError",
    "NonFiniteInputError",
    "SeedRangeError",
]


class E2EError(Exception):
    """Base class of every error e2e-coffea raises on purpose."""


class BadInputError(E2EError, ValueError):
    """A user-supplied value is out of its allowed range or of the wrong kind."""


class BadTypeError(BadInputError, TypeError):
    """A user-supplied argument is of the wrong type (a number where a name is expected)."""


class GenerationError(E2EError, RuntimeError):
    """Sample generation failed (Pythia, detector or writing)."""


class FileLayoutError(E2EError, ValueError):
    """A file is not one of the two layouts, or is corrupt or truncated."""


class MissingBranchError(FileLayoutError, KeyError):
    """A branch the request needs is not in the file."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class ChannelError(E2EError, ValueError):
    """An unknown channel name, or a channel count that does not match a model."""


class SeedRangeError(E2EError, ValueError):
    """A jet or e/gamma seed lies outside the detector grid."""


class NonFiniteInputError(E2EError, ValueError):
    """NaN or inf where finite numbers are required."""


class EmptyChunkError(E2EError, ValueError):
    """A chunk holds no entries where some were required."""


class ContractError(E2EError, ValueError):
    """An ONNX file is corrupt, foreign, or its contract disagrees with the request."""


class MalformedInputError(BadInputError):
    """A file from outside breaks the strict format: a duplicate key, a YAML alias, nesting
    too deep, a size too large, or not a regular file. Refused before anything is built."""


class PrecisionError(BadInputError):
    """A tagger may not run at the requested precision: no measured AUC change recorded,
    a measured drop above the gate, a variant file that is not the measured one, or a
    precision onnxruntime cannot run on this machine."""
