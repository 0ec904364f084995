"""How loud Dask is: a failed chunk is reported once, in the run's one line.

distributed logs every failed task on the worker (``Compute Failed`` and the remote
traceback, at ERROR) and, at shutdown, tasks cancelled while in flight. The run already
reports the failure, with the file and entries, and ``--debug`` prints the whole
traceback; so workers and the scheduler log only CRITICAL unless ``--debug`` is on
(``E2E_COFFEA_DEBUG``, set by the command line), when they log ERROR as before.
A scheduler started in this process (a jobqueue or local cluster) is quieted by
:func:`quiet_dask` for the cluster's whole life, its shutdown included.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["DEBUG_ENV", "debugging", "quiet_dask", "worker_log_level"]

DEBUG_ENV: Final = "E2E_COFFEA_DEBUG"


def debugging() -> bool:
    """``--debug`` is on (the command line sets :data:`DEBUG_ENV`)."""
    return bool(os.environ.get(DEBUG_ENV))


def worker_log_level() -> int:
    """``silence_logs`` for the workers and scheduler of a cluster started here."""
    return logging.ERROR if debugging() else logging.CRITICAL


@contextmanager
def quiet_dask() -> Iterator[None]:
    """distributed's loggers in this process at CRITICAL while the block runs (set on each
    logger, so every handler obeys, also where a config gave a child its own level), then
    as they were; unchanged under ``--debug``."""
    if debugging():
        yield
        return
    names = ["distributed"] + [
        n
        for n, lg in logging.root.manager.loggerDict.items()
        if n.startswith("distributed.") and isinstance(lg, logging.Logger) and lg.level
    ]
    before = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for n, level in before.items():
            logging.getLogger(n).setLevel(level)
