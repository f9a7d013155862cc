"""Recorded play as training data: single-monster transitions (s, a, r, s', done) in numpy arrays.

Two tables hold what the game server recorded (docs/offline.md):

- `ml_experience_replay`: transitions written by `ml.record_experience(...)`, one archetype and
  one model type each; `load_experience` reads the newest N of an archetype and model type.
- `ml_pack_episodes`: finished pack fights (`ml.record_pack_episode`, the .npy layout of
  models/buffers/pack_episodes.py); `episode_transitions` turns every step of every monster into
  a transition with its pack action. Episodes name no archetype (the pack actor is shared by
  every member of a pack), so they serve the pack_coordination model type of any archetype.

`load_offline_dataset` reads both for a training job (models/training/job.py), with bind
parameters only (sql/queries/load_experience.sql, load_pack_episodes.sql). A stored row that is
not a valid transition (a state that is not 64 finite floats: ml_worker may insert into the table
directly) or episode is logged with its id and skipped, as the episode buffer does.

`play_transitions` records the same transitions from an environment played by any policy: what a
game server sends through ml.record_experience (the tests and the measurements use it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.rows import dict_row

from config.model_types import ACTION_DIMS, PACK_COORDINATION
from config.queries import connect_raw, query
from models.buffers.pack_episodes import EpisodeDecodeError, PackEpisode, episode_from_row
from models.envs.base import ActionPolicy, MultiAgentEnv
from plpython.state_contract import STATE_DIM

log = logging.getLogger("models.offline.dataset")

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: PostgreSQL's oid of float4 (real), as array_send writes it in an array's header.
FLOAT4_OID = 700


@dataclass(frozen=True)
class OfflineDataset:
    """M transitions of single monsters. A `done` transition ended the monster's fight (or its
    life): nothing is bootstrapped from its next state."""

    states: FloatArray
    """(M, S) the state the monster acted in."""
    actions: IntArray
    """(M,) the action it took (the model type's output index)."""
    rewards: FloatArray
    """(M,) the reward of that step."""
    next_states: FloatArray
    """(M, S) its state at the next decision."""
    dones: BoolArray
    """(M,) no next decision."""
    sources: dict[str, int] = field(default_factory=dict)
    """Transitions by origin ("experience", "episodes"), for logs and metrics."""

    def __post_init__(self) -> None:
        converted = {
            "states": np.ascontiguousarray(self.states, np.float32),
            "actions": np.ascontiguousarray(self.actions, np.int64),
            "rewards": np.ascontiguousarray(self.rewards, np.float32),
            "next_states": np.ascontiguousarray(self.next_states, np.float32),
            "dones": np.ascontiguousarray(self.dones, np.bool_),
        }
        for name, array in converted.items():
            object.__setattr__(self, name, array)
        m = len(self.actions)
        if self.states.ndim != 2 or self.states.shape[0] != m:
            raise ValueError(f"states must be ({m}, S), got {self.states.shape}")
        if self.next_states.shape != self.states.shape:
            raise ValueError(
                f"next_states must be {self.states.shape}, got {self.next_states.shape}"
            )
        for name in ("actions", "rewards", "dones"):
            if getattr(self, name).shape != (m,):
                raise ValueError(f"{name} must be ({m},), got {getattr(self, name).shape}")
        for name in ("states", "rewards", "next_states"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} must be finite")
        if m and self.actions.min() < 0:
            raise ValueError("actions must be >= 0")

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def state_dim(self) -> int:
        return int(self.states.shape[1])

    @classmethod
    def empty(cls, state_dim: int = STATE_DIM) -> OfflineDataset:
        return cls(
            np.zeros((0, state_dim), np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros((0, state_dim), np.float32),
            np.zeros(0, np.bool_),
        )

    @classmethod
    def concat(cls, parts: Sequence[OfflineDataset]) -> OfflineDataset:
        """The parts' transitions one after the other; their `sources` summed."""
        if not parts:
            return cls.empty()
        sources: dict[str, int] = {}
        for part in parts:
            for origin, count in part.sources.items():
                sources[origin] = sources.get(origin, 0) + count
        return cls(
            np.concatenate([p.states for p in parts]),
            np.concatenate([p.actions for p in parts]),
            np.concatenate([p.rewards for p in parts]),
            np.concatenate([p.next_states for p in parts]),
            np.concatenate([p.dones for p in parts]),
            sources,
        )

    def subset(self, index: NDArray[np.integer]) -> OfflineDataset:
        """The transitions at `index`, in that order."""
        return OfflineDataset(
            self.states[index],
            self.actions[index],
            self.rewards[index],
            self.next_states[index],
            self.dones[index],
        )


# --- ml_experience_replay --------------------------------------------------------------------


def float4_rows(blobs: Sequence[bytes | None], width: int) -> tuple[FloatArray, BoolArray]:
    """(M, width) float32 from array_send bytes of one-dimensional real[] values, and (M,) which
    rows were one-dimensional arrays of `width` non-null finite floats (the others are zeros).

    array_send writes 5 big-endian int32 (dimensions 1, has-nulls 0, element type 700, length,
    lower bound 1), then each element as its byte length (4) and its float4 bits."""
    words = 5 + 2 * width
    size = 4 * words
    sized = np.array([b is not None and len(b) == size for b in blobs], dtype=np.bool_)
    out = np.zeros((len(blobs), width), np.float32)
    if not sized.any():
        return out, sized
    buffer = b"".join(bytes(b) for b, ok in zip(blobs, sized, strict=True) if ok and b is not None)
    header = np.frombuffer(buffer, ">i4").reshape(-1, words)
    values = np.frombuffer(buffer, ">f4").reshape(-1, words)[:, 6::2].astype(np.float32)
    good = (header[:, :5] == [1, 0, FLOAT4_OID, width, 1]).all(axis=1)
    good &= (header[:, 5::2] == 4).all(axis=1) & np.isfinite(values).all(axis=1)
    out[sized] = np.where(good[:, None], values, 0.0)
    valid = sized.copy()
    valid[sized] = good
    return out, valid


def experience_from_rows(
    rows: Sequence[Mapping[str, Any]], n_actions: int, state_dim: int = STATE_DIM
) -> tuple[OfflineDataset, list[tuple[int, str]]]:
    """Transitions from rows of sql/queries/load_experience.sql, and (id, reason) of each row
    skipped: a state that is not `state_dim` finite floats, a next state that is not (unless the
    transition is done: then it is not read), an action outside [0, n_actions), a reward that is
    not finite."""
    states, state_ok = float4_rows([r["state"] for r in rows], state_dim)
    next_states, next_ok = float4_rows([r["next_state"] for r in rows], state_dim)
    actions = np.array([r["action"] for r in rows], np.int64)
    rewards = np.array([r["reward"] for r in rows], np.float32)
    dones = np.array([r["done"] for r in rows], np.bool_)
    reasons = {
        f"state is not {state_dim} finite floats": ~state_ok,
        f"next_state is not {state_dim} finite floats": state_ok & ~next_ok & ~dones,
        f"action outside 0-{n_actions - 1}": (actions < 0) | (actions >= n_actions),
        "reward is not finite": ~np.isfinite(rewards),
    }
    keep = np.ones(len(rows), np.bool_)
    skipped: list[tuple[int, str]] = []
    for reason, bad in reasons.items():
        for i in np.flatnonzero(bad & keep):
            skipped.append((int(rows[int(i)]["id"]), reason))
        keep &= ~bad
    # A done transition's next state is never read: its own state stands in for a missing one.
    next_states = np.where(next_ok[:, None], next_states, states)
    dataset = OfflineDataset(
        states[keep],
        actions[keep],
        rewards[keep],
        next_states[keep],
        dones[keep],
        {"experience": int(keep.sum())},
    )
    return dataset, skipped


def load_experience(
    conn: psycopg.Connection[Any], archetype: str, model_type: str, limit: int
) -> OfflineDataset:
    """The newest `limit` transitions recorded for (archetype, model_type); invalid rows are
    logged with their id and skipped."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            query("load_experience").encode(), (archetype, model_type, limit)
        ).fetchall()
    dataset, skipped = experience_from_rows(rows, ACTION_DIMS[model_type])
    for row_id, reason in skipped:
        log.warning("skipping recorded transition id=%s: %s", row_id, reason)
    return dataset


# --- ml_pack_episodes ------------------------------------------------------------------------


def episode_transitions(episode: PackEpisode, team_reward_weight: float) -> OfflineDataset:
    """Every monster-step of a pack episode as a transition with its pack action.

    reward = team_reward_weight x the step's team reward + the rest x the monster's own (the
    simulator's per-monster reward). A monster whose state is all zeros did not act (dead: the
    game server records zeros) and gives no transition; one whose next state is all zeros died:
    done. The last step is done unless the fight timed out, whose last step is left out (the fight
    went on; there is no next state to bootstrap from)."""
    local, actions = episode.local_obs, episode.actions
    T, N = actions.shape
    acted: BoolArray = np.any(local != 0, axis=2)  # (T, N)
    following = np.concatenate([local[1:], local[-1:]], axis=0)  # (T, N, S): s_{t+1}
    dones = np.zeros((T, N), np.bool_)
    dones[:-1] = ~acted[1:]
    dones[-1] = True
    keep = acted.copy()
    if episode.outcome == "timeout":
        keep[-1] = False
    rewards = (
        team_reward_weight * episode.team_rewards[:, None]
        + (1.0 - team_reward_weight) * episode.individual_rewards
    )
    return OfflineDataset(
        local[keep],
        actions[keep],
        rewards[keep],
        np.where(dones[..., None], local, following)[keep],
        dones[keep],
        {"episodes": int(keep.sum())},
    )


def load_episode_transitions(
    conn: psycopg.Connection[Any], limit: int, team_reward_weight: float
) -> OfflineDataset:
    """The transitions of the newest `limit` pack episodes; invalid rows are logged and skipped."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query("load_pack_episodes").encode(), (None, None, limit)).fetchall()
    parts = []
    for row in rows:
        try:
            episode = episode_from_row(row)
        except EpisodeDecodeError as exc:
            log.warning(
                "skipping stored pack episode id=%s pack_id=%s: %s", row["id"], row["pack_id"], exc
            )
            continue
        parts.append(episode_transitions(episode, team_reward_weight))
    return OfflineDataset.concat(parts)


def load_offline_dataset(
    database_url: str,
    archetype: str,
    model_type: str,
    max_transitions: int,
    max_episodes: int = 0,
    team_reward_weight: float = 0.7,
) -> OfflineDataset:
    """What a training job of (archetype, model_type) learns from: the newest `max_transitions`
    recorded transitions, and for the pack actor the transitions of the newest `max_episodes`
    pack episodes too (0: none)."""
    if model_type not in ACTION_DIMS:
        raise ValueError(f"unknown model type {model_type!r}")
    with connect_raw(database_url) as conn:
        parts = [load_experience(conn, archetype, model_type, max_transitions)]
        if model_type == PACK_COORDINATION and max_episodes > 0:
            parts.append(load_episode_transitions(conn, max_episodes, team_reward_weight))
    return OfflineDataset.concat(parts)


@runtime_checkable
class OfflineLearner(Protocol):
    """An offline algorithm (`AlgorithmConfig.offline`, models/offline/cql.py): it learns from
    a dataset it is given, or loads by its own hyper-parameters from a training job's database."""

    def attach_dataset(self, dataset: OfflineDataset) -> None: ...

    def load_recorded_experience(
        self, database_url: str, archetype: str, model_type: str
    ) -> int: ...


def attach_recorded_experience(
    algorithm: object, database_url: str, archetype: str, model_type: str
) -> int:
    """Give an offline algorithm the experience recorded for a training job's archetype and
    model type (config.training_jobs.TrainingConfigError, with the reason, when there is none);
    returns the number of transitions."""
    if not isinstance(algorithm, OfflineLearner):
        raise TypeError(f"{type(algorithm).__name__} cannot load recorded experience")
    return algorithm.load_recorded_experience(database_url, archetype, model_type)


# --- recording play --------------------------------------------------------------------------


def play_transitions(
    env: MultiAgentEnv, policy: ActionPolicy, steps: int
) -> tuple[OfflineDataset, NDArray[np.int64]]:
    """`steps` steps of every environment of `env` played by `policy`: one transition per acting
    monster and step (its local state, action, its own reward, its next local state), as a game
    server records them; and (M,) the environment index of each. A monster is done when its fight
    ended or it stopped acting (died); a fight's time-limit step is left out (no next state: the
    environment has already reset)."""
    obs = env.reset()
    parts: list[tuple[Any, ...]] = []
    for _ in range(steps):
        actions = np.asarray(policy(obs), np.int64)
        next_obs, result = env.step(actions)
        ended = result.done[:, None]
        dones = (ended & ~result.truncated[:, None]) | (~ended & ~next_obs.agent_mask)
        keep = obs.agent_mask & ~(result.truncated[:, None] & ~dones)
        e_index = np.broadcast_to(np.arange(env.n_envs)[:, None], keep.shape)
        parts.append(
            (
                obs.local_obs[keep],
                actions[keep],
                result.agent_rewards[keep],
                np.where(dones[..., None], obs.local_obs, next_obs.local_obs)[keep],
                dones[keep],
                e_index[keep],
            )
        )
        obs = next_obs
    states, actions, rewards, next_states, dones, fights = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    dataset = OfflineDataset(
        states, actions, rewards, next_states, dones, sources={"play": len(actions)}
    )
    return dataset, fights.astype(np.int64)
