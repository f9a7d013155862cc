"""Pack episodes for CTDE training (seed 000, "Training Pack Episodes" and "API Reference").

A `PackEpisode` is one finished pack fight; `PackEpisodeCollector` builds one step by step;
`PackEpisodeBuffer` keeps them in memory, samples batches, and reads and writes
`ml.ml_pack_episodes`, where every array is a .npy file (plpython/pack_episode.py gives the layout;
the game server's `ml.record_pack_episode` writes the same bytes). A stored row that is corrupt or
mis-shaped is logged with its id and skipped; it never stops a load.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from config.queries import query
from plpython import pack_episode as layout

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

#: The array columns of ml_pack_episodes and the dtype each holds.
ARRAY_DTYPES: dict[str, np.dtype[Any]] = {
    "global_states": np.dtype(layout.FLOAT32),
    "local_obs": np.dtype(layout.FLOAT32),
    "actions": np.dtype(layout.INT64),
    "team_rewards": np.dtype(layout.FLOAT32),
    "individual_rewards": np.dtype(layout.FLOAT32),
    "signals": np.dtype(layout.FLOAT32),
}


class EpisodeDecodeError(ValueError):
    """A stored episode that cannot be turned back into a PackEpisode."""


def _float_array(name: str, value: Any) -> FloatArray:
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise layout.EpisodeError(f"{name} must be numeric, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=ARRAY_DTYPES[name])


@dataclass(eq=False)
class PackEpisode:
    """One finished pack fight: T steps of N monsters (2-5).

    Arrays are stored in their canonical dtypes (float32, actions int64), C order. `pack_size`,
    `episode_length` and `total_team_reward` are derived from the arrays, so they cannot disagree.
    """

    pack_id: int
    """Unique id of the episode (ml_pack_episodes.pack_id)."""
    monster_ids: list[int]
    """The pack's monsters, in agent order (length N)."""
    global_states: FloatArray
    """(T, N, 64): every agent's state, the critic's input."""
    local_obs: FloatArray
    """(T, N, 64): what each agent saw, the actor's input."""
    actions: IntArray
    """(T, N): pack action taken by each agent, 0 <= a < 7."""
    team_rewards: FloatArray
    """(T,): shared reward per step."""
    individual_rewards: FloatArray
    """(T, N): per-agent reward per step."""
    signals: FloatArray | None
    """(T, N, 32): signal vector each agent received, or None when none were recorded."""
    outcome: str
    """victory, defeat, retreat or timeout."""
    coordination_score: float | None = None
    """Coordination score of the fight in [0, 1], when one was computed."""

    def __post_init__(self) -> None:
        self.pack_id = int(self.pack_id)
        self.monster_ids = [int(m) for m in self.monster_ids]
        self.global_states = _float_array("global_states", self.global_states)
        self.local_obs = _float_array("local_obs", self.local_obs)
        self.team_rewards = _float_array("team_rewards", self.team_rewards)
        self.individual_rewards = _float_array("individual_rewards", self.individual_rewards)
        if self.signals is not None:
            self.signals = _float_array("signals", self.signals)
        actions = np.asarray(self.actions)
        if not np.issubdtype(actions.dtype, np.integer):
            raise layout.EpisodeError(f"actions must be integers, got dtype {actions.dtype}")
        self.actions = np.ascontiguousarray(actions, dtype=np.int64)

        layout.check_outcome(self.outcome)
        if self.coordination_score is not None:
            # Stored as real: keep the float32 value so that a round trip is exact.
            self.coordination_score = float(np.float32(self.coordination_score))
            layout.check_coordination_score(self.coordination_score)
        layout.check_shapes(self.monster_ids, self.shapes())
        for name in ("global_states", "local_obs", "team_rewards", "individual_rewards", "signals"):
            array = getattr(self, name)
            if array is not None and not np.isfinite(array).all():
                raise layout.EpisodeError(f"{name} must be finite")
        if self.actions.min() < 0 or self.actions.max() >= layout.ACTION_DIM:
            raise layout.EpisodeError(
                f"actions must be pack action indices 0-{layout.ACTION_DIM - 1}"
            )

    def shapes(self) -> dict[str, tuple[int, ...] | None]:
        return {
            "global_states": self.global_states.shape,
            "local_obs": self.local_obs.shape,
            "actions": self.actions.shape,
            "team_rewards": self.team_rewards.shape,
            "individual_rewards": self.individual_rewards.shape,
            "signals": None if self.signals is None else self.signals.shape,
        }

    @property
    def pack_size(self) -> int:
        """N, the number of monsters."""
        return len(self.monster_ids)

    @property
    def episode_length(self) -> int:
        """T, the number of steps."""
        return int(self.team_rewards.shape[0])

    @property
    def total_team_reward(self) -> float:
        """Exact sum of the per-step team rewards (stored as ml_pack_episodes.team_reward)."""
        return layout.total_reward(self.team_rewards.tolist())

    def equals(self, other: PackEpisode) -> bool:
        """Same ids, outcome, score, and arrays equal in dtype, shape and every value."""

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            if a is None or b is None:
                return a is None and b is None
            return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)

        return (
            self.pack_id == other.pack_id
            and self.monster_ids == other.monster_ids
            and self.outcome == other.outcome
            and self.coordination_score == other.coordination_score
            and all(same(getattr(self, n), getattr(other, n)) for n in ARRAY_DTYPES)
        )


def encode_array(array: np.ndarray) -> bytes:
    """.npy bytes (np.save, no pickle): what ml_pack_episodes holds."""
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def decode_array(name: str, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Array from .npy bytes; EpisodeDecodeError unless it has the expected dtype and shape."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise EpisodeDecodeError(f"{name}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise EpisodeDecodeError(f"{name}: not a single .npy array")
    expected_dtype = ARRAY_DTYPES[name]
    if array.dtype != expected_dtype or array.shape != shape:
        raise EpisodeDecodeError(
            f"{name}: expected {expected_dtype.str} {shape}, got {array.dtype.str} {array.shape}"
        )
    return array


def episode_row(episode: PackEpisode) -> list[Any]:
    """Bind parameters of sql/queries/insert_pack_episode.sql."""
    return [
        episode.pack_id,
        episode.monster_ids,
        episode.pack_size,
        episode.episode_length,
        episode.total_team_reward,
        episode.outcome,
        episode.coordination_score,
        encode_array(episode.global_states),
        encode_array(episode.local_obs),
        encode_array(episode.actions),
        encode_array(episode.individual_rewards),
        None if episode.signals is None else encode_array(episode.signals),
        encode_array(episode.team_rewards),
    ]


def episode_from_row(row: Mapping[str, Any]) -> PackEpisode:
    """PackEpisode from an ml_pack_episodes row; EpisodeDecodeError when it is not a valid one."""
    T, N = int(row["episode_length"]), int(row["pack_size"])
    if len(row["monster_ids"]) != N:
        raise EpisodeDecodeError(f"pack_size {N} but {len(row['monster_ids'])} monster_ids")
    if row["team_rewards"] is None:
        raise EpisodeDecodeError("no per-step team_rewards (recorded outside the episode API)")
    expected = {
        "global_states": (T, N, layout.STATE_DIM),
        "local_obs": (T, N, layout.STATE_DIM),
        "actions": (T, N),
        "team_rewards": (T,),
        "individual_rewards": (T, N),
        "signals": (T, N, layout.SIGNAL_DIM),
    }
    arrays = {
        name: None if row[name] is None else decode_array(name, bytes(row[name]), shape)
        for name, shape in expected.items()
    }
    try:
        episode = PackEpisode(
            pack_id=row["pack_id"],
            monster_ids=list(row["monster_ids"]),
            outcome=row["outcome"],
            coordination_score=row["coordination_score"],
            **arrays,  # type: ignore[arg-type]
        )
    except layout.EpisodeError as exc:
        raise EpisodeDecodeError(str(exc)) from None
    if np.float32(episode.total_team_reward) != np.float32(row["team_reward"]):
        raise EpisodeDecodeError(
            f"team_reward {row['team_reward']} is not the sum of team_rewards "
            f"({episode.total_team_reward})"
        )
    return episode


class PackEpisodeBuffer:
    """In-memory pack episodes for training, backed by ml.ml_pack_episodes.

    At capacity, adding evicts the lowest-reward episode when `prioritize_by_reward`, the oldest
    otherwise. `get_batch(prioritized=True)` samples by reward rank: P(i) proportional to 1 / rank.
    """

    def __init__(
        self,
        max_episodes: int = 1000,
        db_pool: asyncpg.Pool | None = None,
        prioritize_by_reward: bool = True,
        *,
        seed: int | None = None,
    ) -> None:
        if max_episodes < 1:
            raise ValueError(f"max_episodes must be at least 1, got {max_episodes}")
        self.max_episodes = max_episodes
        self.db_pool = db_pool
        self.prioritize_by_reward = prioritize_by_reward
        self.episodes: list[PackEpisode] = []
        #: (row id, reason) of every stored episode the last load skipped.
        self.skipped: list[tuple[int, str]] = []
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.episodes)

    def add_episode(self, episode: PackEpisode) -> None:
        if len(self.episodes) >= self.max_episodes:
            if self.prioritize_by_reward:
                worst = min(
                    range(len(self.episodes)), key=lambda i: self.episodes[i].total_team_reward
                )
                del self.episodes[worst]
            else:
                del self.episodes[0]
        self.episodes.append(episode)

    def get_batch(
        self, batch_size: int, pack_size: int | None = None, prioritized: bool = False
    ) -> list[PackEpisode]:
        """Up to batch_size distinct episodes (of one pack size if given), sampled at random."""
        candidates = [e for e in self.episodes if pack_size is None or e.pack_size == pack_size]
        k = min(batch_size, len(candidates))
        if k <= 0:
            return []
        p = None
        if prioritized:
            rewards = np.array([e.total_team_reward for e in candidates])
            ranks = np.empty(len(candidates))
            ranks[np.argsort(-rewards, kind="stable")] = np.arange(1, len(candidates) + 1)
            p = (1.0 / ranks) / (1.0 / ranks).sum()  # rank 1 (highest reward) is the likeliest
        picked = self._rng.choice(len(candidates), size=k, replace=False, p=p)
        return [candidates[i] for i in picked]

    def _pool(self) -> asyncpg.Pool:
        if self.db_pool is None:
            raise RuntimeError("PackEpisodeBuffer has no db_pool: pass an asyncpg pool")
        return self.db_pool

    async def save_episode(self, episode: PackEpisode) -> int:
        """Insert one episode into ml_pack_episodes; returns its row id."""
        row_id = await self._pool().fetchval(query("insert_pack_episode"), *episode_row(episode))
        return int(row_id)

    async def load_from_database(
        self,
        pack_ids: list[int] | None = None,
        limit: int = 100,
        min_reward: float | None = None,
    ) -> int:
        """Add the newest `limit` stored episodes (of `pack_ids`, with team_reward >= min_reward).

        Returns how many were added; corrupt or mis-shaped rows are logged and listed in `skipped`.
        """
        rows = await self._pool().fetch(query("load_pack_episodes"), pack_ids, min_reward, limit)
        self.skipped = []
        loaded = 0
        for row in rows:
            try:
                episode = episode_from_row(row)
            except EpisodeDecodeError as exc:
                logger.warning(
                    "skipping stored pack episode id=%s pack_id=%s: %s",
                    row["id"],
                    row["pack_id"],
                    exc,
                )
                self.skipped.append((int(row["id"]), str(exc)))
                continue
            self.add_episode(episode)
            loaded += 1
        return loaded


class PackEpisodeCollector:
    """Builds episodes step by step while a pack fights, then hands them to a buffer."""

    @dataclass
    class _Open:
        monster_ids: list[int]
        states: np.ndarray
        local_obs: np.ndarray
        steps: list[dict[str, Any]]

    def __init__(self, buffer: PackEpisodeBuffer | None = None, first_pack_id: int = 1) -> None:
        self.buffer = buffer
        self._next_id = itertools.count(first_pack_id)
        self._open: dict[int, PackEpisodeCollector._Open] = {}

    def start_episode(
        self,
        monster_ids: Sequence[int],
        initial_states: Any,
        initial_local_obs: Any = None,
        pack_id: int | None = None,
    ) -> int:
        """Open an episode for a pack in its initial (N, 64) states; returns its pack_id."""
        if pack_id is None:
            pack_id = next(self._next_id)
        if pack_id in self._open:
            raise ValueError(f"pack episode {pack_id} is already open")
        states = np.array(initial_states, dtype=np.float32)
        local = states if initial_local_obs is None else np.array(initial_local_obs, np.float32)
        self._open[pack_id] = self._Open([int(m) for m in monster_ids], states, local, [])
        return pack_id

    def add_transition(
        self,
        pack_id: int,
        next_states: Any,
        actions: Any,
        team_reward: float,
        individual_rewards: Any,
        signals: Any = None,
        next_local_obs: Any = None,
    ) -> None:
        """Record one step: the actions taken in the current states, their rewards, the signals
        the agents saw; then move to next_states."""
        episode = self._open[pack_id]
        episode.steps.append(
            {
                "global_states": episode.states,
                "local_obs": episode.local_obs,
                "actions": np.asarray(actions),
                "team_rewards": float(team_reward),
                "individual_rewards": np.asarray(individual_rewards, dtype=np.float32),
                "signals": None if signals is None else np.asarray(signals, dtype=np.float32),
            }
        )
        episode.states = np.array(next_states, dtype=np.float32)
        episode.local_obs = (
            episode.states if next_local_obs is None else np.array(next_local_obs, np.float32)
        )

    def finalize_episode(
        self, pack_id: int, outcome: str, coordination_score: float | None = None
    ) -> PackEpisode:
        """Close the episode, add it to the buffer (if any) and return it."""
        episode = self._open.pop(pack_id)
        if not episode.steps:
            raise ValueError(f"pack episode {pack_id} has no transitions")
        steps = episode.steps
        n_agents = len(episode.monster_ids)
        signals = None
        if any(s["signals"] is not None for s in steps):
            # A step without signals saw none: zeros, as the actor would have.
            zeros = np.zeros((n_agents, layout.SIGNAL_DIM), np.float32)
            signals = np.stack([zeros if s["signals"] is None else s["signals"] for s in steps])
        result = PackEpisode(
            pack_id=pack_id,
            monster_ids=episode.monster_ids,
            global_states=np.stack([s["global_states"] for s in steps]),
            local_obs=np.stack([s["local_obs"] for s in steps]),
            actions=np.stack([s["actions"] for s in steps]),
            team_rewards=np.array([s["team_rewards"] for s in steps], dtype=np.float32),
            individual_rewards=np.stack([s["individual_rewards"] for s in steps]),
            signals=signals,
            outcome=outcome,
            coordination_score=coordination_score,
        )
        if self.buffer is not None:
            self.buffer.add_episode(result)
        return result
