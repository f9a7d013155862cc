"""The actors' per-monster recurrent state between ticks (worker/hidden_states.py)."""

from __future__ import annotations

import numpy as np
import pytest

from worker.hidden_states import INITIAL_ROWS, HiddenStates


def serve(cache: HiddenStates, ids: list[int], states: np.ndarray) -> np.ndarray:
    """One tick as an actor runs it: read the kept states, then keep the new ones."""
    slots = cache.slots(ids)
    before = cache.gather(slots)
    cache.store(ids, slots, states)
    return before


def rows(ids: list[int], value: float) -> np.ndarray:
    return np.full((len(ids), 4), value, dtype=np.float32) + np.asarray(ids, np.float32)[:, None]


def test_a_monster_gets_back_what_it_left_and_a_new_one_zeros() -> None:
    cache = HiddenStates(4, 100)
    assert not serve(cache, [1, 2], rows([1, 2], 0.5)).any()
    np.testing.assert_array_equal(
        serve(cache, [2, 3, 1], rows([2, 3, 1], 0.25)),
        np.vstack([rows([2], 0.5), np.zeros((1, 4)), rows([1], 0.5)]),
    )
    assert len(cache) == 3


def test_a_monster_twice_in_one_batch_keeps_its_last_state() -> None:
    cache = HiddenStates(4, 100)
    serve(cache, [7, 7], np.array([[1.0] * 4, [2.0] * 4], dtype=np.float32))  # new
    np.testing.assert_array_equal(serve(cache, [7], rows([7], 0)), [[2.0] * 4])
    many = np.arange(40, dtype=np.float32)[:, None].repeat(4, axis=1)
    serve(cache, [7, 8] * 20, many)  # known, 20 times each
    np.testing.assert_array_equal(serve(cache, [7, 8], rows([7, 8], 0)), many[-2:])
    assert len(cache) == 2


def test_it_grows_past_its_first_rows_and_forgets_the_least_recently_served() -> None:
    capacity = INITIAL_ROWS * 2 + 10
    cache = HiddenStates(4, capacity)
    first = list(range(capacity))
    for k in range(0, capacity, 100):  # fills every row (grown twice), 100 a tick
        serve(cache, first[k : k + 100], rows(first[k : k + 100], 0))
    serve(cache, [0], rows([0], 1))  # monster 0 is now the most recent
    newcomers = list(range(capacity, capacity + 5))
    serve(cache, newcomers, rows(newcomers, 0))
    assert len(cache) <= capacity
    np.testing.assert_array_equal(serve(cache, [0], rows([0], 2)), rows([0], 1))
    np.testing.assert_array_equal(serve(cache, newcomers, rows(newcomers, 0)), rows(newcomers, 0))
    assert not serve(cache, [1], rows([1], 0)).any()  # served in the oldest tick: forgotten
    assert len(cache) <= capacity


def test_a_batch_larger_than_the_capacity_keeps_its_last_monsters() -> None:
    cache = HiddenStates(4, 3)
    ids = [10, 11, 12, 13, 14]
    serve(cache, ids, rows(ids, 0))
    assert len(cache) == 3
    np.testing.assert_array_equal(
        serve(cache, [12, 13, 14], rows([0, 0, 0], 0)), rows([12, 13, 14], 0)
    )


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        HiddenStates(4, 0)
