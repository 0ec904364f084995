"""pyproject's warning filters: every warning fails a test, except the few named there, and
those are narrow enough that a file of ours left open still fails one."""

from __future__ import annotations

import warnings

import pytest
from _pytest.config import parse_warning_filter

PIPES = (
    "subprocess 4242 is still running",
    "unclosed file <_io.BufferedReader name=7>",
    "unclosed file <_io.TextIOWrapper name=12 encoding='UTF-8'>",
    "unclosed file <_io.BufferedWriter name=9>",
)
"""What distributed's SpecCluster and dask-jobqueue's collected ``Popen`` objects say."""

OURS = (
    "unclosed file <_io.BufferedReader name='/x.root'>",
    "unclosed file <_io.TextIOWrapper name='fileset.json' mode='r' encoding='UTF-8'>",
    "unclosed file <_io.BufferedReader name='7'>",  # a file named 7 is a file, not a pipe
    "unclosed <socket.socket fd=5, family=2, type=1, proto=0>",
)
"""What a file (or socket) of ours, opened by name and never closed, would say."""


def _configured(config: pytest.Config) -> None:
    """The filters of pyproject, applied in pytest's order (a later line wins)."""
    warnings.resetwarnings()
    for line in config.getini("filterwarnings"):
        warnings.filterwarnings(*parse_warning_filter(line, escape=False))


@pytest.mark.parametrize("message", PIPES)
def test_the_cluster_pipes_are_ignored(pytestconfig: pytest.Config, message: str) -> None:
    with warnings.catch_warnings(record=True) as seen:
        _configured(pytestconfig)
        warnings.warn(message, ResourceWarning, stacklevel=1)
    assert seen == []


@pytest.mark.parametrize("message", OURS)
def test_a_file_of_ours_left_open_is_an_error(pytestconfig: pytest.Config, message: str) -> None:
    with warnings.catch_warnings():
        _configured(pytestconfig)
        with pytest.raises(ResourceWarning, match="unclosed"):
            warnings.warn(message, ResourceWarning, stacklevel=1)
