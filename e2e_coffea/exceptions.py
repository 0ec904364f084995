"""One base error, specific subclasses: callers can catch E2EError, tests can be precise."""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "BadTypeError",
    "BatchJobError",
    "ChannelError",
    "CheckpointDirError",
    "CheckpointIntegrityError",
    "ClusterConfigError",
    "ContractError",
    "DeviceFallbackError",
    "DeviceOutOfMemoryError",
    "E2EError",
    "EmptyChunkError",
    "FileLayoutError",
    "GenerationError",
    "MalformedInputError",
    "MissingBranchError",
    "MissingSampleError",
    "ModelHashError",
    "ModelUploadError",
    "NonFiniteInputError",
    "OutputDirError",
    "OutputFormatError",
    "OutputWriteError",
    "PrecisionError",
    "RunFailedError",
    "SchedulerUnreachableError",
    "SeedRangeError",
    "TrainingError",
    "TritonError",
    "TritonUnavailableError",
    "UnreadableFilesError",
    "UnsafeOutputError",
    "WorkersMissingError",
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


class TrainingError(E2EError, RuntimeError):
    """Training cannot go on: a non-finite loss, an unusable checkpoint, or empty data."""


class BatchJobError(E2EError, RuntimeError):
    """The batch system refused, held back or lost the workers' jobs (exit code 1)."""


class WorkersMissingError(BatchJobError, TimeoutError):
    """Fewer workers joined than asked for within the config's bounded waits."""


class ClusterConfigError(BadInputError):
    """The facility configuration is invalid; the message names the key and what was expected.

    A usage error (the CLI exits with code 2): nothing was started or submitted."""


class ModelUploadError(E2EError, OSError):
    """The workers' model folder is not private to this user, or cannot be written."""


class MissingSampleError(BadInputError):
    """A ROC's signal or background sample is not in the output (never in the fileset,
    lost, or without objects): no AUC, and the result is incomplete."""

    def __init__(self, message: str, *, which: str) -> None:
        super().__init__(message)
        self.which = which
        """The sample that is missing: ``"background"`` (or ``"signal"``)."""


class DeviceOutOfMemoryError(E2EError, MemoryError):
    """Even a batch of one row does not fit the device's memory."""


class DeviceFallbackError(E2EError, RuntimeError):
    """A GPU session was requested but onnxruntime would have run it on the CPU."""


class ModelHashError(ContractError):
    """A model file's bytes are not those its sha256 names (planted, or changed on disk)."""


class TritonError(E2EError, RuntimeError):
    """The inference server could not be reached, refused the request, or serves a model
    that disagrees with the tagger's contract."""


class TritonUnavailableError(TritonError, ConnectionError):
    """The server stayed unreachable (or too slow) through every retry: an outage, told
    apart from a refusal (a ConnectionError, which coffea's ``skipbadfiles`` also skips)."""


class OutputFormatError(BadInputError):
    """A file is not a saved run output, or holds something this format does not allow."""


class UnsafeOutputError(OutputFormatError):
    """Only a pickled output is there, and reading it was not allowed (see ``allow_pickle``)."""


class CheckpointDirError(BadInputError):
    """The checkpoint directory is unsafe, foreign, or was written for other work."""


class CheckpointIntegrityError(E2EError):
    """A checkpoint's content no longer matches the hash its manifest entry recorded."""


class SchedulerUnreachableError(E2EError, ConnectionError):
    """No scheduler answered at the given address in time."""


class RunFailedError(E2EError, RuntimeError):
    """Chunks failed and ``skip_bad_files`` was not given; the message names them."""


class UnreadableFilesError(RunFailedError, BadInputError):
    """Input files cannot be opened (missing, empty, not ROOT): a bad input, found before
    any chunk runs (exit code 2 on the command line)."""


class OutputDirError(BadInputError):
    """``--out`` cannot hold the run's files; the message says why (exit code 2)."""


class OutputWriteError(E2EError, OSError):
    """Writing the run's files failed part way; the folder was left as it was."""
