"""The queue's floats as numpy arrays: `real[]` values in their binary send format
(`array_send`), and states packed by the game server as float32 bytes.

Either is read with one `np.frombuffer`, instead of one Python float per element (measured when
the row still carried dense signal vectors: 256 monsters x 96 floats cost about a millisecond
through Python lists).
The format (src/backend/utils/adt/arrayfuncs.c, array_send):
big-endian int32 ndim, int32 has-nulls flag, uint32 element type, then per dimension int32 size
and int32 lower bound, then per element int32 byte length (-1 for NULL) and its bytes.
"""

from __future__ import annotations

import math
import struct

import numpy as np

_HEADER = struct.Struct(">iiI")
_FLOAT4_OID = 700
#: One non-null element: its length (always 4) and its big-endian float.
_ELEMENT = np.dtype([("length", ">i4"), ("value", ">f4")])


class ArrayFormatError(ValueError):
    """Bytes that are not a binary `real[]`."""


def float4_array(data: bytes) -> np.ndarray:
    """The array as float32 in its own shape (an empty array has shape (0,)); NULL elements
    become NaN, which every consumer refuses as a non-finite value."""
    ndim, has_nulls, element_type = _HEADER.unpack_from(data, 0)
    if element_type != _FLOAT4_OID:
        raise ArrayFormatError(f"expected a real[] (type {_FLOAT4_OID}), got type {element_type}")
    if ndim == 0:
        return np.zeros(0, dtype=np.float32)
    dims = struct.unpack_from(f">{2 * ndim}i", data, _HEADER.size)[0::2]
    offset = _HEADER.size + 8 * ndim
    count = math.prod(dims)  # not np.prod: a ufunc reduce costs more than the decode here
    if not has_nulls:
        elements = np.frombuffer(data, dtype=_ELEMENT, count=count, offset=offset)
        return elements["value"].astype(np.float32).reshape(dims)
    values = np.full(count, np.nan, dtype=np.float32)
    for i in range(count):  # only rows the legacy gateway sent with nulls take this path
        (length,) = struct.unpack_from(">i", data, offset)
        offset += 4
        if length >= 0:
            (values[i],) = struct.unpack_from(">f", data, offset)
            offset += length
    return values.reshape(dims)


def packed_float32(data: bytes, rows: int) -> np.ndarray:
    """Little-endian float32 values as `rows` rows (flat when they do not split evenly: the
    consumer checking the shape then names the size it got)."""
    if len(data) % 4:
        raise ArrayFormatError(f"{len(data)} bytes are not a whole number of float32 values")
    values = np.frombuffer(data, dtype="<f4").astype(np.float32, copy=False)
    if rows <= 0 or values.size % rows:
        return values
    return values.reshape(rows, -1)
