"""Seed 003's first example problem: five warehouses keep stock against random demand.

    python -m examples.inventory [--episodes 1000] [--seed 0]

Trains MADDPG (models/algorithms/maddpg.py, continuous actions) on `InventoryEnv` and prints a
before/after table: uniform random decisions and the untrained actor before, a base-stock
heuristic as the reference line, MADDPG after training, all on held-out seeds.

The problem (docs/examples.md, "Multi-warehouse inventory")
-----------------------------------------------------------
Five warehouses on a ring each face Poisson demand, with means 0.6, 0.8, 1.0, 1.2 and 1.4 units a
day (5 units a day together). Every day each warehouse decides two numbers in [0, 1]:

    order     share of its order capacity (3 units a day) bought from the supplier; it arrives
              2 days later (lead time)
    transfer  share of its transfer capacity (2 units a day, at most its stock) shipped to the
              next warehouse on the ring; it arrives the next morning

Demand that stock cannot meet is lost. Costs, in dollars: $10 per unit of unmet demand, $0.50 per
unit shipped (ordered or transferred), $0.10 per unit held at the end of a day. The team's reward
is minus the day's total cost / 10 (every warehouse learns from the team's reward; the centralized
critic assigns the credit). An episode is a 20-day planning period; it ends there (a termination:
the day is in the observation, stock left at the end has no value), so an episode's demand is
about 100 units and its unavoidable shipping cost about $50.

The scale is chosen so the seed's figures are the right order of magnitude (its cost per episode
is this env's dollars per 20 days); they are the seed's claims, not targets this env was tuned to.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from models.algorithms.maddpg import MADDPG, Hyperparameters
from models.config import Config, config_from_dict
from models.envs.base import (
    ActionPolicy,
    EpisodeStats,
    Observation,
    StepResult,
    concat_episodes,
    evaluate_policy,
)
from models.training.settings import TrainingSettings

FloatArray = NDArray[np.float64]

# --- the problem's constants -------------------------------------------------------------------

N_WAREHOUSES = 5
DEMAND_MEANS = (0.6, 0.8, 1.0, 1.2, 1.4)  # units a day, Poisson
EPISODE_DAYS = 20
LEAD_TIME_DAYS = 2
ORDER_CAPACITY = 3.0  # units a day at order = 1
TRANSFER_CAPACITY = 2.0  # units a day at transfer = 1
STOCKOUT_COST = 10.0  # $ per unit of unmet demand
SHIPPING_COST = 0.5  # $ per unit ordered or transferred
HOLDING_COST = 0.1  # $ per unit held at the end of a day
REWARD_SCALE = 10.0  # reward = -cost / REWARD_SCALE: a day's reward is about -0.5 to -2

STATE_DIM = 8  # local observation width (the actor's ctde.state_dim)
ACTION_DIM = 2  # order, transfer
SIGNAL_DIM = 32  # the protocol's signal vector (zeros here: no pack signals)
UNIT = 5.0  # observation features are units / UNIT


@dataclass
class DayCosts:
    """One day's costs in dollars per warehouse, (E, N) each."""

    stockout: FloatArray
    shipping: FloatArray
    holding: FloatArray

    @property
    def total(self) -> FloatArray:
        out: FloatArray = self.stockout + self.shipping + self.holding
        return out


class InventoryEnv:
    """E inventory problems of 5 warehouses in lockstep (`models.envs.base.MultiAgentEnv`, with
    continuous actions: `action_kind = "continuous"`, actions (E, 5, 2) floats in [0, 1]).

    Local observation of warehouse i (units / 5):
        0  stock on hand          1  order arriving tonight       2  all units on order
        3  units its neighbour transferred in last night           4  yesterday's demand
        5  its demand forecast (its mean)                          6  elapsed share of the period
        7  yesterday's unmet demand
    Global state (the critic's): slot i holds warehouse i's observation; the critic reads all five.

    Each finished episode carries its cost in dollars and its stockout rate (the share of
    warehouse-days with unmet demand) in EpisodeStats.extra; `team_return` is -cost / 10.
    """

    action_kind = "continuous"
    action_dim = ACTION_DIM
    state_dim = STATE_DIM
    n_agents = N_WAREHOUSES
    score_name = "cost"
    """Lower is better: the training loop reads `score_higher_is_better` (absent means True)."""
    score_higher_is_better = False

    def __init__(
        self,
        n_envs: int,
        seed: int = 0,
        episode_days: int = EPISODE_DAYS,
        lead_time: int = LEAD_TIME_DAYS,
    ) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        if episode_days < 1 or lead_time < 1:
            raise ValueError("episode_days and lead_time must be >= 1")
        self.n_envs, self.episode_days, self.lead_time = n_envs, episode_days, lead_time
        E, N = n_envs, N_WAREHOUSES
        self.means: FloatArray = np.broadcast_to(np.asarray(DEMAND_MEANS), (E, N)).copy()
        self._rng = np.random.default_rng(seed)
        self.stock = np.zeros((E, N))
        # pipeline[:, :, k]: units ordered that arrive at the end of the day k days from now
        # (an order placed today goes to k = lead_time - 1 and is on hand lead_time days later).
        self.pipeline = np.zeros((E, N, lead_time))
        self.received = np.zeros((E, N))  # units the ring neighbour transferred in last night
        self.day = np.zeros(E, np.int64)
        self.last_demand = np.zeros((E, N))
        self.last_unmet = np.zeros((E, N))
        self.last_costs = DayCosts(np.zeros((E, N)), np.zeros((E, N)), np.zeros((E, N)))
        self._cost = np.zeros(E)  # the episode's dollars so far
        self._stockout_days = np.zeros(E, np.int64)
        self._begin(np.arange(E))

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        """Mean episode cost in dollars, its spread, and the stockout rate in % of
        warehouse-days."""
        cost = episodes.extra["cost"]
        return {
            "cost": float(cost.mean()),
            "cost_std": float(cost.std()),
            "stockout_rate": 100.0 * float(episodes.extra["stockout_rate"].mean()),
            "team_return": float(episodes.team_return.mean()),
            "mean_length": float(episodes.length.mean()),
        }

    def reset(self) -> Observation:
        self._begin(np.arange(self.n_envs))
        return self._observe()

    def step(self, actions: NDArray[Any]) -> tuple[Observation, StepResult]:
        """One day everywhere, with Poisson demand; finished periods start over (auto-reset)."""
        demand = self._rng.poisson(self.means).astype(np.float64)
        return self.advance(actions, demand)

    def advance(self, actions: NDArray[Any], demand: FloatArray) -> tuple[Observation, StepResult]:
        """One day with the given (E, N) demand (`step` draws it; a test can script it)."""
        E, N = self.n_envs, N_WAREHOUSES
        act = np.asarray(actions, np.float64)
        if act.shape != (E, N, ACTION_DIM):
            raise ValueError(f"actions must have shape {(E, N, ACTION_DIM)}, got {act.shape}")
        if not np.all((act >= 0.0) & (act <= 1.0)):  # also refuses NaN
            raise ValueError("actions must be in [0, 1]")
        # Decisions: order from the supplier, ship to the next warehouse on the ring.
        order = act[:, :, 0] * ORDER_CAPACITY
        transfer = np.minimum(act[:, :, 1] * TRANSFER_CAPACITY, self.stock)
        self.stock -= transfer
        self.pipeline[:, :, -1] += order
        # Demand: what stock cannot meet is lost.
        sold = np.minimum(self.stock, demand)
        unmet = demand - sold
        self.stock -= sold
        costs = DayCosts(
            stockout=STOCKOUT_COST * unmet,
            shipping=SHIPPING_COST * (order + transfer),
            holding=HOLDING_COST * self.stock,
        )
        # Overnight: the orders due and yesterday's transfers arrive (warehouse i ships to i + 1).
        self.received = np.roll(transfer, 1, axis=1)
        self.stock += self.pipeline[:, :, 0] + self.received
        self.pipeline = np.roll(self.pipeline, -1, axis=2)
        self.pipeline[:, :, -1] = 0.0
        self.last_demand, self.last_unmet, self.last_costs = demand, unmet, costs

        day_cost = costs.total.sum(axis=1)
        self._cost += day_cost
        self._stockout_days += (unmet > 0).sum(axis=1)
        self.day += 1
        done = self.day >= self.episode_days
        finished = np.flatnonzero(done)
        team = -day_cost / REWARD_SCALE
        terminal = self._features()  # the last state, before the reset below
        episodes = self._finish(finished)
        self._begin(finished)
        result = StepResult(
            team_reward=team.astype(np.float32),
            # Every warehouse learns from the team's reward: transfers help the neighbour.
            agent_rewards=np.repeat(team[:, None], N, axis=1).astype(np.float32),
            individual_rewards=(-costs.total / REWARD_SCALE).astype(np.float32),
            done=done,
            # The period's end is part of the problem (the day is observed): a termination.
            truncated=np.zeros(E, bool),
            terminal_global_state=terminal,
            terminal_pack_mask=np.ones((E, N), bool),
            episodes=episodes,
        )
        return self._observe(), result

    # --- internals ----------------------------------------------------------------------------

    def _begin(self, envs: NDArray[np.integer]) -> None:
        """New periods in `envs`: random opening stock (0 to 2 x (lead time + 1) days of mean
        demand), one day of mean demand on order for every day of the lead time but today's."""
        if envs.size == 0:
            return
        means = self.means[envs]
        self.stock[envs] = self._rng.uniform(0.0, 2.0 * (self.lead_time + 1), means.shape) * means
        self.pipeline[envs] = 0.0
        self.pipeline[envs, :, : self.lead_time - 1] = means[:, :, None]
        self.received[envs] = 0.0
        self.day[envs] = 0
        self.last_demand[envs] = means
        self.last_unmet[envs] = 0.0
        self._cost[envs] = 0.0
        self._stockout_days[envs] = 0

    def _finish(self, envs: NDArray[np.integer]) -> EpisodeStats:
        warehouse_days = N_WAREHOUSES * self.episode_days
        return EpisodeStats(
            env_index=envs.astype(np.int64),
            length=self.day[envs].copy(),
            team_return=-self._cost[envs] / REWARD_SCALE,
            extra={
                "cost": self._cost[envs].astype(np.float64),
                "stockout_rate": self._stockout_days[envs] / warehouse_days,
            },
        )

    def _features(self) -> NDArray[np.float32]:
        E, N = self.n_envs, N_WAREHOUSES
        out = np.zeros((E, N, STATE_DIM), np.float32)
        out[:, :, 0] = self.stock / UNIT
        out[:, :, 1] = self.pipeline[:, :, 0] / UNIT
        out[:, :, 2] = self.pipeline.sum(axis=2) / UNIT
        out[:, :, 3] = self.received / UNIT
        out[:, :, 4] = self.last_demand / UNIT
        out[:, :, 5] = self.means / UNIT
        out[:, :, 6] = (self.day / self.episode_days)[:, None]
        out[:, :, 7] = self.last_unmet / UNIT
        return out

    def _observe(self) -> Observation:
        E, N = self.n_envs, N_WAREHOUSES
        features = self._features()
        return Observation(
            local_obs=features,
            signals=np.zeros((E, N, SIGNAL_DIM), np.float32),
            global_state=features.copy(),
            agent_mask=np.ones((E, N), bool),
            pack_mask=np.ones((E, N), bool),
            action_mask=np.ones((E, N, ACTION_DIM), bool),  # every action dim is always free
        )


# --- reference policies ------------------------------------------------------------------------


class RandomPolicy:
    """Uniform random decisions: order and transfer shares in [0, 1]."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Observation) -> NDArray[Any]:
        E, N = obs.agent_mask.shape
        return self.rng.uniform(0.0, 1.0, (E, N, ACTION_DIM))


class BaseStockPolicy:
    """The textbook heuristic from each warehouse's own observation: order up to
    S = m (L + 1) + z sqrt(m (L + 1)) (mean demand over the lead time and the day, plus z
    standard deviations of Poisson demand), counting stock and units on order; never transfer."""

    def __init__(self, z: float = 2.0, lead_time: int = LEAD_TIME_DAYS) -> None:
        self.z, self.lead_time = z, lead_time

    def __call__(self, obs: Observation) -> NDArray[Any]:
        f = obs.local_obs.astype(np.float64) * UNIT
        position = f[:, :, 0] + f[:, :, 2]
        over_lead = f[:, :, 5] * (self.lead_time + 1)
        level = over_lead + self.z * np.sqrt(over_lead)
        out = np.zeros((*position.shape, ACTION_DIM))
        out[:, :, 0] = np.clip((level - position) / ORDER_CAPACITY, 0.0, 1.0)
        return out


# --- the example's training run ----------------------------------------------------------------


def example_config() -> Config:
    """The ctde section for this env: its observation width, a small actor, faster learning
    rates than the pack fights' (a 2-number action and a 55-number critic input), and the
    MADDPG paper's gamma 0.95 (a 20-day horizon)."""
    return config_from_dict(
        {
            "ctde": {
                "state_dim": STATE_DIM,
                "gamma": 0.95,
                "actor": {"hidden_dim": 64, "learning_rate": 1e-3},
                "critic": {"learning_rate": 1e-3},
            }
        }
    )


def example_hyperparameters() -> Hyperparameters:
    return Hyperparameters(
        buffer_size=50_000,
        batch_size=256,
        tau=0.01,
        exploration_noise=0.1,
        train_steps_per_iteration=40,
        warmup_steps=1_000,
        critic_hidden_dims=[128, 128],
    )


def evaluate(policy: ActionPolicy, n_envs: int, seed: int) -> dict[str, float]:
    """One 20-day period in each of `n_envs` environments seeded `seed`."""
    return evaluate_policy(policy, InventoryEnv(n_envs, seed=seed))


def train(
    episodes: int, seed: int, n_envs: int = 8, log_every: int = 200
) -> tuple[MADDPG, dict[str, float], list[tuple[int, float, float]]]:
    """MADDPG for at least `episodes` finished training episodes (rounded up to whole
    iterations). Returns the algorithm, the untrained actor's evaluation and a log of
    (episodes, mean training cost, stockout %) over the last `log_every` episodes."""
    settings = TrainingSettings(n_envs=n_envs, rollout_length=EPISODE_DAYS, seed=seed)
    env = InventoryEnv(n_envs, seed=seed)
    alg = MADDPG(example_config(), settings, env, example_hyperparameters(), N_WAREHOUSES)
    untrained = evaluate(alg.policy(), EVAL_ENVS, EVAL_SEED + seed)
    done = 0
    log: list[tuple[int, float, float]] = []
    window: list[EpisodeStats] = []  # training episodes since the last log line
    while done < episodes:
        it = alg.iterate()
        window += it.episodes
        done += sum(len(ep.env_index) for ep in it.episodes)
        if done // log_every > len(log) and window:
            summary = env.summarize(concat_episodes(window))
            log.append((done, summary["cost"], summary["stockout_rate"]))
            window = []
    return alg, untrained, log


EVAL_ENVS = 500  # held-out periods per evaluation
EVAL_SEED = 1_000_000  # evaluation seeds, far from the training seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="training episodes (periods)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    torch.set_num_threads(1)
    started = time.perf_counter()
    alg, untrained, log = train(args.episodes, args.seed)
    trained_s = time.perf_counter() - started
    eval_seed = EVAL_SEED + args.seed
    rows = [
        ("random decisions (before)", evaluate(RandomPolicy(args.seed), EVAL_ENVS, eval_seed)),
        ("MADDPG untrained (before)", untrained),
        ("base-stock heuristic (z=2)", evaluate(BaseStockPolicy(), EVAL_ENVS, eval_seed)),
        (f"MADDPG after {args.episodes} episodes", evaluate(alg.policy(), EVAL_ENVS, eval_seed)),
    ]
    print(
        f"Multi-warehouse inventory: 5 warehouses, {EPISODE_DAYS}-day periods, "
        f"{EVAL_ENVS} held-out periods per line"
    )
    for done, cost, stockouts in log:
        print(f"  training: {done:5d} episodes  cost ${cost:7.2f}  stockouts {stockouts:5.1f}%")
    print()
    print(f"| {'policy':<32} | {'cost $/episode':>14} | {'stockout days':>13} |")
    print(f"|{'-' * 34}|{'-' * 16}|{'-' * 15}|")
    for name, summary in rows:
        spread = f"{summary['cost']:.1f} +- {summary['cost_std']:.0f}"
        print(f"| {name:<32} | {spread:>14} | {summary['stockout_rate']:12.1f}% |")
    print()
    print("seed 003's claim: 150-200 before, 80-100 after 1,000 episodes; stockouts 30% -> 3-5%")
    print(
        f"training: {trained_s:.0f} s for {alg.env_steps // EPISODE_DAYS} episodes, "
        f"{alg.gradient_steps} gradient steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
