"""plpython.pgarrays reads what PostgreSQL's array_send writes: every shape, nulls and non-finite
values as the queue may hold them (the legacy gateway stores its state arrays as they came)."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import pytest

from plpython.pgarrays import ArrayFormatError, float4_array


def sent(admin: psycopg.Connection[Any], literal: str) -> bytes:
    row = admin.execute("SELECT array_send(%s::real[])", (literal,)).fetchone()
    assert row is not None
    return bytes(row[0])


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("{1.5,-2,3e-5}", np.array([1.5, -2, 3e-5], dtype=np.float32)),
        ("{{1,2,3},{4,5,6}}", np.arange(1, 7, dtype=np.float32).reshape(2, 3)),
        ("{}", np.zeros(0, dtype=np.float32)),
        ("[0:1]={7,8}", np.array([7, 8], dtype=np.float32)),
    ],
)
def test_shapes_and_values(admin: Any, literal: str, expected: np.ndarray) -> None:
    got = float4_array(sent(admin, literal))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_nulls_become_nan_and_infinities_stay(admin: Any) -> None:
    got = float4_array(sent(admin, "{{1,NULL},{Infinity,NaN}}"))
    assert got.shape == (2, 2)
    assert got[0, 0] == 1.0
    assert np.isnan(got[0, 1])
    assert np.isposinf(got[1, 0])
    assert np.isnan(got[1, 1])


def test_a_production_size_job(admin: Any) -> None:
    rng = np.random.default_rng(0)
    states = rng.uniform(-1, 1, (256, 64)).astype(np.float32)
    row = admin.execute("SELECT array_send(%s::real[])", (states.tolist(),)).fetchone()
    assert row is not None
    np.testing.assert_array_equal(float4_array(bytes(row[0])), states)


def test_other_element_types_are_refused(admin: Any) -> None:
    row = admin.execute("SELECT array_send('{1,2}'::int[])").fetchone()
    assert row is not None
    with pytest.raises(ArrayFormatError, match="expected a real"):
        float4_array(bytes(row[0]))
