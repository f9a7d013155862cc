"""A finished pack fight as stored in ml.ml_pack_episodes: validation and .npy encoding.

One module checks and encodes an episode in the database (`ml.record_pack_episode`, called by the
game server) and in training (`models.pack_episode_buffer`), so both write the same bytes. Standard
library only: it runs inside PostgreSQL.

Every array column holds one NumPy .npy file (format 1.0, C order, little-endian), so its dtype and
shape travel with it. With T steps and N agents (2 <= N <= 5):

    column              dtype  shape
    global_states       <f4    (T, N, 64)   every agent's state: the critic's input
    local_obs           <f4    (T, N, 64)   what each agent saw: the actor's input
    actions             <i8    (T, N)       pack action indices, 0 <= a < 7
    team_rewards        <f4    (T,)         shared reward per step (team_reward = its exact sum)
    individual_rewards  <f4    (T, N)       per-agent reward per step
    signals             <f4    (T, N, 32)   signal vectors (NULL: none recorded)
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence
from typing import Any

STATE_DIM = 64
SIGNAL_DIM = 32
ACTION_DIM = 7
MIN_PACK_SIZE, MAX_PACK_SIZE = 2, 5
MAX_EPISODE_LENGTH = 10_000
OUTCOMES = ("victory", "defeat", "retreat", "timeout")

FLOAT32 = "<f4"
INT64 = "<i8"
#: array module type codes of the two dtypes (native byte order; swapped on big-endian hosts).
_TYPECODES = {FLOAT32: "f", INT64: "q"}
NPY_MAGIC = b"\x93NUMPY\x01\x00"
NPY_ALIGN = 64

#: SQLSTATEs raised by ml.record_pack_episode.
INVALID_PARAMETER = "22023"
NULL_NOT_ALLOWED = "22004"


class EpisodeError(ValueError):
    """An episode that cannot be stored; `sqlstate` is the error code the SQL function raises."""

    def __init__(self, message: str, sqlstate: str = INVALID_PARAMETER) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def npy_header(descr: str, shape: Sequence[int]) -> bytes:
    """The .npy 1.0 header NumPy's `np.save` writes for a C-order array of `descr` and `shape`."""
    dims = ", ".join(str(d) for d in shape)
    shape_text = f"({dims},)" if len(shape) == 1 else f"({dims})"
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    # Pad with spaces so that magic + length field + header + newline is a multiple of 64.
    unpadded = len(NPY_MAGIC) + 2 + len(text) + 1
    text += " " * (-unpadded % NPY_ALIGN) + "\n"
    return NPY_MAGIC + len(text).to_bytes(2, "little") + text.encode("latin1")


def encode_npy(flat: Sequence[float] | Sequence[int], descr: str, shape: Sequence[int]) -> bytes:
    """.npy bytes of `flat` (C order) as `descr` with `shape`: the same bytes as NumPy's np.save."""
    expected = math.prod(shape)
    if len(flat) != expected:
        raise EpisodeError(f"{len(flat)} values do not fill shape {tuple(shape)}")
    data = array(_TYPECODES[descr], flat)
    if sys.byteorder == "big":
        data.byteswap()
    return npy_header(descr, shape) + data.tobytes()


def flatten(name: str, nested: Any, ndim: int) -> tuple[list[Any], tuple[int, ...]]:
    """Nested lists (a PostgreSQL array as PL/Python hands it over) -> (flat values, shape).

    Rectangularity is guaranteed by PostgreSQL; the number of dimensions and NULLs are checked here.
    """
    if nested is None:
        raise EpisodeError(f"{name} must not be NULL", NULL_NOT_ALLOWED)
    shape: list[int] = []
    probe = nested
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    if len(shape) != ndim or 0 in shape:
        raise EpisodeError(
            f"{name} must be a non-empty {ndim}-dimensional array, got shape {shape}"
        )
    flat: list[Any] = nested
    for _ in range(ndim - 1):
        flat = [item for row in flat for item in row]
    if any(v is None for v in flat):
        raise EpisodeError(f"{name} must not contain NULL elements", NULL_NOT_ALLOWED)
    return flat, tuple(shape)


def check_shapes(
    monster_ids: Sequence[int], shapes: dict[str, tuple[int, ...] | None]
) -> tuple[int, int]:
    """(T, N) of an episode whose arrays have `shapes` (name -> shape; signals may be None)."""
    n_agents = len(monster_ids)
    if not MIN_PACK_SIZE <= n_agents <= MAX_PACK_SIZE:
        raise EpisodeError(
            f"pack size must be {MIN_PACK_SIZE}-{MAX_PACK_SIZE} monsters, got {n_agents}"
        )
    if len(set(monster_ids)) != n_agents:
        raise EpisodeError(f"monster_ids must be distinct, got {list(monster_ids)}")
    steps = shapes["team_rewards"]
    if steps is None or len(steps) != 1:
        raise EpisodeError(f"team_rewards must have shape (T,), got {steps}")
    T = steps[0]
    if not 1 <= T <= MAX_EPISODE_LENGTH:
        raise EpisodeError(f"episode length must be 1-{MAX_EPISODE_LENGTH} steps, got {T}")
    expected = {
        "global_states": (T, n_agents, STATE_DIM),
        "local_obs": (T, n_agents, STATE_DIM),
        "actions": (T, n_agents),
        "individual_rewards": (T, n_agents),
        "signals": (T, n_agents, SIGNAL_DIM),
    }
    for name, want in expected.items():
        got = shapes.get(name)
        if got is None and name == "signals":
            continue
        if got != want:
            raise EpisodeError(
                f"{name} must have shape {want} (T={T} steps, N={n_agents} monsters), got {got}"
            )
    return T, n_agents


def check_outcome(outcome: str | None) -> str:
    if outcome not in OUTCOMES:
        raise EpisodeError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    return outcome


def check_coordination_score(score: float | None) -> None:
    if score is not None and not 0.0 <= score <= 1.0:
        raise EpisodeError(f"coordination_score must be in [0, 1], got {score}")


def check_finite(name: str, flat: Sequence[float]) -> None:
    for i, v in enumerate(flat):
        if not math.isfinite(v):
            raise EpisodeError(f"{name} must be finite, element {i} (C order) is {v}")


def check_actions(flat: Sequence[int]) -> None:
    for i, a in enumerate(flat):
        if not 0 <= a < ACTION_DIM:
            raise EpisodeError(
                f"actions must be pack action indices 0-{ACTION_DIM - 1}, element {i} is {a}"
            )


def total_reward(team_rewards: Sequence[float]) -> float:
    """The stored team_reward: the exact sum of the per-step team rewards (then rounded to real)."""
    return math.fsum(team_rewards)


def encode_episode(
    monster_ids: Sequence[int] | None,
    outcome: str | None,
    global_states: Any,
    local_obs: Any,
    actions: Any,
    team_rewards: Any,
    individual_rewards: Any,
    signals: Any = None,
    coordination_score: float | None = None,
) -> dict[str, Any]:
    """Validate nested-list arrays and encode them: the row ml.record_pack_episode inserts."""
    if monster_ids is None or any(m is None for m in monster_ids):
        raise EpisodeError("monster_ids must not be NULL or contain NULL", NULL_NOT_ALLOWED)
    check_outcome(outcome)
    check_coordination_score(coordination_score)
    floats = {
        "global_states": flatten("global_states", global_states, 3),
        "local_obs": flatten("local_obs", local_obs, 3),
        "team_rewards": flatten("team_rewards", team_rewards, 1),
        "individual_rewards": flatten("individual_rewards", individual_rewards, 2),
    }
    if signals is not None:
        floats["signals"] = flatten("signals", signals, 3)
    flat_actions, action_shape = flatten("actions", actions, 2)
    shapes: dict[str, tuple[int, ...] | None] = {k: v[1] for k, v in floats.items()}
    shapes["actions"] = action_shape
    T, n_agents = check_shapes(monster_ids, shapes)
    for name, (flat, _) in floats.items():
        check_finite(name, flat)
    check_actions(flat_actions)

    row: dict[str, Any] = {
        name: encode_npy(flat, FLOAT32, shape) for name, (flat, shape) in floats.items()
    }
    row["actions"] = encode_npy(flat_actions, INT64, action_shape)
    row.setdefault("signals", None)
    row.update(
        monster_ids=list(monster_ids),
        pack_size=n_agents,
        episode_length=T,
        team_reward=total_reward(floats["team_rewards"][0]),
        outcome=outcome,
        coordination_score=coordination_score,
    )
    return row
