"""The recurrent (GRU) state of the monsters an actor serves, kept between their ticks.

One float32 matrix with a row (slot) per monster, so that a batch's states are read with one
fancy-index gather and written back with one scatter. (A dict of per-monster arrays, stacked
and unpacked one monster at a time in Python, was about a third of a millisecond for a batch of
256: an eighth of the worker's time per batch, measured with bench/decisions.py batches.)
At most `capacity` monsters are kept; beyond that the least recently served are forgotten (they
start again from zeros, as a monster never seen does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Rows allocated at first; the matrix doubles as monsters arrive, up to the capacity.
INITIAL_ROWS = 1024


class HiddenStates:
    def __init__(self, dim: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.dim = dim
        self.capacity = capacity
        rows = min(capacity, INITIAL_ROWS)
        self.values = np.zeros((rows, dim), dtype=np.float32)
        self.slot_of: dict[int, int] = {}
        self.owner = np.full(rows, -1, dtype=np.int64)  # slot -> monster, -1 when free
        self.last_used = np.zeros(rows, dtype=np.int64)
        self.clock = 0
        self.free: list[int] = list(range(rows - 1, -1, -1))

    def __len__(self) -> int:
        return len(self.slot_of)

    def slots(self, monster_ids: Sequence[int]) -> np.ndarray:
        """Each monster's slot, -1 for one with no state kept."""
        get = self.slot_of.get
        return np.fromiter((get(m, -1) for m in monster_ids), np.int64, len(monster_ids))

    def gather(self, slots: np.ndarray) -> np.ndarray:
        """(n, dim): the kept states, zeros where the slot is -1."""
        states: np.ndarray = self.values[np.maximum(slots, 0)]
        states[slots < 0] = 0.0
        return states

    def store(self, monster_ids: Sequence[int], slots: np.ndarray, states: np.ndarray) -> None:
        """Keep each monster's new state; a monster twice in one batch keeps its last."""
        if len(monster_ids) > self.capacity:  # only the last `capacity` can be kept
            cut = len(monster_ids) - self.capacity
            monster_ids, slots, states = monster_ids[cut:], slots[cut:], states[cut:]
        self.clock += 1
        kept = slots >= 0
        self.last_used[slots[kept]] = self.clock  # the batch's own rows are not evicted below
        for i in np.flatnonzero(~kept).tolist():
            monster = monster_ids[i]
            slot = self.slot_of.get(monster)  # the same new monster earlier in this batch
            if slot is None:
                slot = self._take_slot()
                self.slot_of[monster] = slot
                self.owner[slot] = monster
                self.last_used[slot] = self.clock
            slots[i] = slot
        if len(set(monster_ids)) < len(monster_ids):
            # NumPy does not say which of repeated indices an assignment keeps: keep the last
            # row of each slot explicitly.
            _, from_end = np.unique(slots[::-1], return_index=True)
            last = len(slots) - 1 - from_end
            slots, states = slots[last], states[last]
        self.values[slots] = states

    def _take_slot(self) -> int:
        if not self.free:
            if len(self.values) < self.capacity:
                self._grow(min(self.capacity, 2 * len(self.values)))
            else:
                self._evict(max(1, self.capacity // 8))
        return self.free.pop()

    def _grow(self, rows: int) -> None:
        old = len(self.values)
        self.values = np.concatenate([self.values, np.zeros((rows - old, self.dim), np.float32)])
        self.owner = np.concatenate([self.owner, np.full(rows - old, -1, np.int64)])
        self.last_used = np.concatenate([self.last_used, np.zeros(rows - old, np.int64)])
        self.free.extend(range(rows - 1, old - 1, -1))

    def _evict(self, count: int) -> None:
        """Free the `count` least recently served slots, never one this batch uses."""
        candidates = np.flatnonzero(self.last_used < self.clock)
        count = min(count, len(candidates))
        oldest = candidates[np.argpartition(self.last_used[candidates], count - 1)[:count]]
        for slot in oldest.tolist():
            del self.slot_of[int(self.owner[slot])]
            self.owner[slot] = -1
        self.values[oldest] = 0.0
        self.free.extend(oldest.tolist())
