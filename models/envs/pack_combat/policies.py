"""Scripted pack policies and the evaluation loop that compares them.

- `random_policy`: uniform over valid actions (the floor).
- `nearest_attack_policy`: the rAthena-style baseline, every monster engages the adventurer nearest
  to itself (SPLIT is exactly that primitive).
- `coordinated_policy`: hand-written tactics that read nothing but an actor's own 64-float local
  observation, so its win rate proves a decentralized actor has what it needs to coordinate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation, first_episodes
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.observe import ADV_BASE, ADV_FEATURES
from models.envs.pack_combat.simulator import PackCombatEnv

Policy = Callable[[Observation], NDArray[np.int64]]
#: Used when random_policy is given no generator, so that a script calling it stays repeatable.
_DEFAULT_RNG = np.random.default_rng(0)


def random_policy(obs: Observation, rng: np.random.Generator | None = None) -> NDArray[np.int64]:
    """Uniform over each agent's valid actions."""
    gen = rng if rng is not None else _DEFAULT_RNG
    scores = gen.random(obs.action_mask.shape) * obs.action_mask
    out: NDArray[np.int64] = scores.argmax(-1)
    return out


def nearest_attack_policy(obs: Observation) -> NDArray[np.int64]:
    """Every monster engages its own nearest adventurer, as rAthena's mob AI does."""
    return np.where(obs.agent_mask, R.SPLIT, 0).astype(np.int64)


def coordinated_policy(obs: Observation) -> NDArray[np.int64]:
    """Hand-written pack tactics, reading only local_obs (docs/simulator.md, "Scripted policies").

    - Against a party, everyone focus fires the leader's target (the priest first) while the
      support protects: it heals the most hurt packmate under attack.
    - Against a lone adventurer the damage dealers flank it from the side they stand on
      (local_obs[14]), so the pack strikes from both sides (flank bonus, a kiter is pinned); the
      support, the frail mage and the tank guard the weakest packmate (the tank provokes).
    """
    local = obs.local_obs
    arch = local[..., 2:8].argmax(-1)
    seen = local[..., ADV_BASE : ADV_BASE + R.MAX_ADV * ADV_FEATURES : ADV_FEATURES].sum(-1)
    solo = (seen == 1) & (local[..., 1] == 1.0)  # a lone adventurer from the start
    flank = np.where(local[..., 14] >= 0, R.FLANK_LEFT, R.FLANK_RIGHT)
    guard = (arch == R.SUPPORT) | (solo & ((arch == R.MAGE) | (arch == R.TANK)))
    act = np.select([guard, solo], [R.PROTECT_WEAK, flank], R.FOCUS_FIRE)
    # A lone survivor cannot protect anyone: fall back to focus fire.
    valid = np.take_along_axis(obs.action_mask, act[..., None], 2)[..., 0]
    act = np.where(valid, act, R.FOCUS_FIRE)
    return np.where(obs.agent_mask, act, 0).astype(np.int64)


@dataclass
class EvalSummary:
    """Outcome of `evaluate`: one episode per environment, no auto-reset (unbiased by length)."""

    episodes: int
    win_rate: float
    defeat_rate: float
    timeout_rate: float
    coordinated_kills: float  # mean per episode
    pack_survival: float  # mean over episodes
    coordination_score: float  # mean over episodes
    flank_rate: float  # mean over episodes
    mean_length: float
    team_return: float

    def line(self) -> str:
        return (
            f"win {self.win_rate:6.1%}  defeat {self.defeat_rate:6.1%}  "
            f"timeout {self.timeout_rate:6.1%}  coord_kills {self.coordinated_kills:4.2f}  "
            f"survival {self.pack_survival:4.2f}  coordination {self.coordination_score:4.2f}  "
            f"flanked {self.flank_rate:4.2f}  "
            f"length {self.mean_length:5.1f}  return {self.team_return:6.2f}"
        )


def evaluate(
    policy: Policy,
    n_episodes: int = 500,
    seed: int = 10_000,
    pack_size: int | tuple[int, int] = (2, 5),
    n_adventurers: int | tuple[int, int] = (1, 4),
    max_steps: int = 80,
    scenario: str | R.Scenario = "standard",
) -> EvalSummary:
    """Play exactly one episode in each of `n_episodes` environments and summarize."""
    env = PackCombatEnv(
        n_episodes,
        pack_size=pack_size,
        n_adventurers=n_adventurers,
        seed=seed,
        max_steps=max_steps,
        scenario=scenario,
        auto_reset=False,
    )
    return EvalSummary(episodes=n_episodes, **env.summarize(first_episodes(policy, env)))
