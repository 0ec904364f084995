"""A ``.npy`` member of a zip (a run's ``output.zip``, a frames ``.npz``), checked before
it is read.

A ``.npy`` header is its writer's word for the array's shape, and ``np.load`` allocates
what it says before reading a byte: a header claiming 14.6 TiB raised a raw
``MemoryError``. Here the header must describe exactly the bytes the member holds, hold
no Python objects (a pickle), and parse; otherwise one
:class:`~e2e_coffea.exceptions.MalformedInputError` line names the member.
"""

from __future__ import annotations

import math
import tokenize
import zipfile

import numpy as np

from ..exceptions import MalformedInputError

__all__ = ["check_npy_member"]


def check_npy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, source: str
) -> tuple[tuple[int, ...], np.dtype[np.generic]]:
    """(shape, dtype) of the ``.npy`` member ``info``, refused unless its header is sane."""
    where = f"{source}: {info.filename}"
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                msg = f"{where}: .npy format version {version} (only 1.0 and 2.0 are read)"
                raise MalformedInputError(msg)
        except (ValueError, SyntaxError, TypeError, tokenize.TokenError, EOFError) as err:
            # numpy parses the header as a Python literal: any of these means a forged one
            msg = f"{where}: not a .npy array ({type(err).__name__}: {' '.join(str(err).split())})"
            raise MalformedInputError(msg) from err
        header = f.tell()
    if dtype.hasobject:
        msg = f"{where}: an array of Python objects (a pickle inside .npy); refused"
        raise MalformedInputError(msg)
    claimed = math.prod(shape) * dtype.itemsize
    if header + claimed != info.file_size:
        msg = (
            f"{where}: its header claims an array of {claimed} bytes {tuple(shape)}, but the "
            f"member holds {info.file_size - header}; refused before allocating"
        )
        raise MalformedInputError(msg)
    return tuple(int(s) for s in shape), dtype
