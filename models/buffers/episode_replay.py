"""Episode replay for recurrent value-based MARL (QMIX, VDN; EPyMARL's episode buffer).

A recurrent Q-network must be re-run over an episode from its first step (its GRU starts from
zeros there), so the unit of storage is a whole episode, not a transition. Every episode is stored
padded to `max_length` steps; `filled[t]` says step t is real. Sampling draws B distinct stored
episodes uniformly and trims the batch to its longest episode (the padded tail is masked anyway,
and a GRU is causal: trailing padding cannot change the earlier steps).

Storage is numpy, one preallocated array per field of shape (capacity, max_length, *field shape).
`np.zeros` maps its pages lazily, so a large capacity costs memory only as episodes arrive.
When full, the oldest episode is overwritten (FIFO).

    replay = EpisodeReplay(1000, 80, {"obs": ((5, 64), np.float32), "reward": ((), np.float32)})
    replay.add({"obs": obs_of_episode, "reward": rewards_of_episode})    # (T, ...) each, T <= 80
    batch = replay.sample(32, rng)            # {"obs": (32, L, 5, 64), ..., "filled": (32, L)}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

#: name -> (shape of one step, dtype)
FieldSpecs = Mapping[str, tuple[tuple[int, ...], DTypeLike]]


class EpisodeReplay:
    """A FIFO store of at most `capacity` episodes of at most `max_length` steps each."""

    def __init__(self, capacity: int, max_length: int, fields: FieldSpecs) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if "filled" in fields:
            raise ValueError("'filled' is the buffer's own mask: name the field otherwise")
        self.capacity = capacity
        self.max_length = max_length
        self.fields = {
            name: (tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in fields.items()
        }
        self.storage: dict[str, NDArray[Any]] = {
            name: np.zeros((capacity, max_length, *shape), dtype)
            for name, (shape, dtype) in self.fields.items()
        }
        self.filled = np.zeros((capacity, max_length), bool)
        self.position = 0  # the slot the next episode goes to (the oldest one once full)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, episode: Mapping[str, NDArray[Any]]) -> None:
        """Store one finished episode: every field (T, *shape), one T in [1, max_length]."""
        if set(episode) != set(self.fields):
            raise ValueError(
                f"episode fields {sorted(episode)} != buffer fields {sorted(self.fields)}"
            )
        lengths = {len(values) for values in episode.values()}
        if len(lengths) != 1:
            raise ValueError(f"episode fields disagree on the length: {sorted(lengths)}")
        (length,) = lengths
        if not 1 <= length <= self.max_length:
            raise ValueError(f"episode length {length} is outside [1, {self.max_length}]")
        slot = self.position
        for name, values in episode.items():
            row = self.storage[name][slot]
            row[:length] = values
            row[length:] = 0  # the previous occupant's tail must not survive as padding
        self.filled[slot] = np.arange(self.max_length) < length
        self.position = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, NDArray[Any]]:
        """B distinct episodes drawn uniformly, trimmed to the longest one: each field
        (B, L, *shape) and `filled` (B, L) bool."""
        if not 1 <= batch <= self.size:
            raise ValueError(f"cannot sample {batch} episodes from {self.size} stored")
        index = rng.choice(self.size, size=batch, replace=False)
        filled = self.filled[index]
        length = int(filled.sum(axis=1).max())
        out = {name: array[index, :length] for name, array in self.storage.items()}
        out["filled"] = filled[:, :length]
        return out

    # --- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The stored episodes (copies: the buffer keeps changing after a checkpoint is taken)."""
        return {
            "capacity": self.capacity,
            "max_length": self.max_length,
            "position": self.position,
            "size": self.size,
            "storage": {name: array[: self.size].copy() for name, array in self.storage.items()},
            "filled": self.filled[: self.size].copy(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()` into a buffer built with the same capacity, length and fields."""
        for key in ("capacity", "max_length"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"replay {key}: checkpoint has {state[key]}, buffer has {getattr(self, key)}"
                )
        if set(state["storage"]) != set(self.fields):
            raise ValueError(
                f"replay fields: checkpoint has {sorted(state['storage'])}, "
                f"buffer has {sorted(self.fields)}"
            )
        size = int(state["size"])
        for name, array in self.storage.items():
            saved = np.asarray(state["storage"][name])
            if saved.shape[2:] != array.shape[2:]:
                raise ValueError(
                    f"replay field {name}: checkpoint has step shape {saved.shape[2:]}, "
                    f"buffer has {array.shape[2:]}"
                )
            array[:] = 0
            array[:size] = saved
        self.filled[:] = False
        self.filled[:size] = state["filled"]
        self.position, self.size = int(state["position"]), size
