"""The multi-agent environment contract the CTDE trainer trains on (issue 6, "Trainer").

One object steps E environments in lockstep, every environment with N agent slots (padded; masks
say which slots hold an agent and which act this step), the `reset` / `step` over all agents of the
seed's MARL guide (003_...):

    env = PettingZooVecEnv(make_spread, n_envs=32, seed=0)   # or PackCombatEnv(...)
    obs = env.reset()                                        # Observation, arrays (E, N, ...)
    obs, result = env.step(actions)                          # actions (E, N) int; auto-reset

The data classes are the pack-combat simulator's own (`models.envs.pack_combat.simulator`): the
trainer has always read them, and the simulator must satisfy this protocol unchanged, so they stay
defined there and are re-exported here. The slot count N is the observation's second axis
(`agent_mask.shape[1]`), not an attribute, because `PackCombatEnv` carries none (it always has 5
slots).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat.simulator import EpisodeStats, Observation, StepResult

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


def concat_episodes(parts: list[EpisodeStats]) -> EpisodeStats:
    """The rows of several EpisodeStats as one (an empty list gives no rows)."""
    names = [n for n in EpisodeStats.__dataclass_fields__ if n != "extra"]
    if not parts:
        empty: dict[str, Any] = {n: np.zeros(0) for n in names}
        return EpisodeStats(**empty)
    extra = {k: np.concatenate([p.extra[k] for p in parts]) for k in parts[0].extra}
    columns = {n: np.concatenate([getattr(p, n) for p in parts]) for n in names}
    return EpisodeStats(**columns, extra=extra)


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


def _take(ep: EpisodeStats, rows: NDArray[np.bool_]) -> EpisodeStats:
    names = [n for n in EpisodeStats.__dataclass_fields__ if n != "extra"]
    columns = {n: getattr(ep, n)[rows] for n in names}
    return EpisodeStats(**columns, extra={k: v[rows] for k, v in ep.extra.items()})
