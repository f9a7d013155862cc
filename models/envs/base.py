"""The multi-agent environment contract the CTDE trainer trains on (issue 6, "Trainer").

One object steps E environments in lockstep, every environment with N agent slots (padded; masks
say which slots hold an agent and which act this step), the `reset` / `step` over all agents of the
seed's MARL guide (003_...):

    env = PettingZooVecEnv(make_spread, n_envs=32, seed=0)   # or PackCombatEnv(...)
    obs = env.reset()                                        # Observation, arrays (E, N, ...)
    obs, result = env.step(actions)                          # actions (E, N) int; auto-reset

The data classes are defined here, for any environment; the pack-combat simulator extends two of
them with its own fields (`PackEpisodeStats`: outcomes, kills, coordination; `PackStepResult`: the
reward's terms). Another environment's per-episode figures travel in `EpisodeStats.extra`. The
slot count N is the observation's second axis (`agent_mask.shape[1]`), not an attribute, because
`PackCombatEnv` carries none (it always has 5 slots).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


@dataclass
class Observation:
    """What the actors and the critic see before a step: E environments, N agent slots, padded."""

    local_obs: FloatArray  # (E, N, S) each agent's own view; zeros where agent_mask is False
    signals: FloatArray  # (E, N, G) its signal vector (the pack's; zeros where there are none)
    global_state: FloatArray  # (E, N, S) privileged state for the critic; zeros for padded slots
    agent_mask: BoolArray  # (E, N) the agent acts this step
    pack_mask: BoolArray  # (E, N) the slot holds a team member (acting or not)
    action_mask: BoolArray  # (E, N, A) valid actions; a slot that does not act allows only 0


@dataclass(kw_only=True)
class EpisodeStats:
    """One row per environment whose episode ended this step (K rows, K may be 0)."""

    env_index: IntArray  # (K,)
    length: IntArray  # (K,) steps taken
    team_return: NDArray[np.float64]  # (K,) undiscounted sum of team_reward
    extra: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    """(K,) the environment's own per-episode figures by name (an example problem's latency or
    cost); the pack simulator's are fields of PackEpisodeStats instead."""


@dataclass(kw_only=True)
class StepResult:
    """Consequences of one step. With auto-reset, finished environments already hold a new episode
    in the returned Observation; their last state before the reset is in `terminal_global_state`."""

    team_reward: FloatArray  # (E,)
    agent_rewards: FloatArray  # (E, N) each agent's reward; 0 where the slot did not act
    individual_rewards: FloatArray  # (E, N) the agents' own parts of it
    done: BoolArray  # (E,) episode ended
    truncated: BoolArray  # (E,) ended by the time limit only (bootstrap the value there)
    terminal_global_state: FloatArray  # (E, N, S) global state at the end of this step, pre-reset
    terminal_pack_mask: BoolArray  # (E, N)
    episodes: EpisodeStats


E = TypeVar("E", bound=EpisodeStats)

#: Decides (E, N) actions from an observation (the trained actor, a scripted or a random policy).
ActionPolicy = Callable[[Observation], NDArray[np.integer]]

__all__ = [
    "ActionPolicy",
    "EpisodeStats",
    "MultiAgentEnv",
    "Observation",
    "ReturnSummary",
    "StepResult",
    "SupportsPackSize",
    "concat_episodes",
    "evaluate_policy",
    "evaluate_team_return",
    "first_episodes",
    "n_slots",
    "team_return_summary",
]


@runtime_checkable
class MultiAgentEnv(Protocol):
    """E environments of N agent slots stepped together.

    - `reset()` starts new episodes everywhere and returns the observation of every environment.
    - `step(actions)` applies (E, N) integer actions (slots that do not act are ignored) and
      returns the next observation and the step's consequences. An environment whose episode ended
      is reset inside `step` (auto-reset): the returned observation is the new episode's first, its
      last state is in `StepResult.terminal_global_state`; `StepResult.truncated` says the time
      limit ended it (its value is bootstrapped), `done` without `truncated` that it terminated.
    - `StepResult.episodes` has one row per finished episode; the trainer reads `team_return`
      everywhere, the pack-combat fields (outcome, kills, ...) only on the simulator.
    """

    n_envs: int
    score_name: str
    """The key of `summarize`'s answer that ranks policies (evaluation keeps the best by it)."""

    def reset(self) -> Observation: ...

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        """Means over finished episodes, named: `score_name` among them."""
        ...

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]: ...


@runtime_checkable
class SupportsPackSize(Protocol):
    """An environment whose team size can change between episodes (the 2 -> 5 curriculum)."""

    def set_pack_size(self, pack_size: int | tuple[int, int]) -> None: ...


def n_slots(obs: Observation) -> int:
    """N, the agent slots of every environment."""
    return int(obs.agent_mask.shape[1])


@dataclass(frozen=True)
class ReturnSummary:
    """Evaluation of a generic environment: one finished episode per environment."""

    episodes: int
    team_return: float  # mean undiscounted episode return, summed over the team's agents
    team_return_std: float
    mean_length: float

    def line(self) -> str:
        return (
            f"team return {self.team_return:8.2f} +- {self.team_return_std:6.2f}  "
            f"length {self.mean_length:5.1f}  ({self.episodes} episodes)"
        )


def team_return_summary(episodes: EpisodeStats) -> dict[str, float]:
    """A generic environment's summary: the team return's mean and spread, episode length."""
    return {
        "team_return": float(episodes.team_return.mean()),
        "team_return_std": float(episodes.team_return.std()),
        "mean_length": float(episodes.length.mean()),
    }


def evaluate_team_return(
    policy: ActionPolicy, env: MultiAgentEnv, max_steps: int = 100_000
) -> ReturnSummary:
    """`evaluate_policy` read as a ReturnSummary (mean undiscounted team return)."""
    episodes = first_episodes(policy, env, max_steps)
    summary = team_return_summary(episodes)
    return ReturnSummary(
        episodes=len(episodes.env_index),
        team_return=summary["team_return"],
        team_return_std=summary["team_return_std"],
        mean_length=summary["mean_length"],
    )


def _columns(kind: type[EpisodeStats]) -> list[str]:
    return [f.name for f in fields(kind) if f.name != "extra"]


def concat_episodes(parts: Sequence[E]) -> E:
    """The rows of several EpisodeStats of one environment as one, of their own class."""
    if not parts:
        raise ValueError("concat_episodes needs at least one EpisodeStats")
    kind = type(parts[0])
    extra = {k: np.concatenate([p.extra[k] for p in parts]) for k in parts[0].extra}
    columns = {n: np.concatenate([getattr(p, n) for p in parts]) for n in _columns(kind)}
    return kind(**columns, extra=extra)


def first_episodes(
    policy: ActionPolicy, env: MultiAgentEnv, max_steps: int = 100_000
) -> EpisodeStats:
    """Play until each of the env's E environments has finished its first episode; those E rows.
    Only the first episode of each environment counts, so short episodes are not
    over-represented (an auto-resetting env finishes them more often)."""
    obs = env.reset()
    E = env.n_envs
    seen = np.zeros(E, bool)
    rows: list[EpisodeStats] = []
    for _ in range(max_steps):
        obs, result = env.step(policy(obs))
        ep = result.episodes
        first = ~seen[ep.env_index]
        if first.any():
            rows.append(_take(ep, first))
            seen[ep.env_index[first]] = True
        if seen.all():
            return concat_episodes(rows)
    raise RuntimeError(f"evaluation: some episodes did not end within {max_steps} steps")


def evaluate_policy(
    policy: ActionPolicy, env: MultiAgentEnv, max_steps: int = 100_000
) -> dict[str, float]:
    """The one evaluator: one episode in each of the env's environments, summarized by the env
    (its `score_name` among the keys) plus the number of episodes."""
    episodes = first_episodes(policy, env, max_steps)
    return {**env.summarize(episodes), "episodes": float(len(episodes.env_index))}


def _take(ep: E, rows: NDArray[np.bool_]) -> E:
    columns = {n: getattr(ep, n)[rows] for n in _columns(type(ep))}
    return type(ep)(**columns, extra={k: v[rows] for k, v in ep.extra.items()})
