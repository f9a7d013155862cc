"""Seed 003's second example problem: three routers share three payment channels.

    python -m examples.routing [--episodes 3200] [--seed 0]

Trains MAPPO (the product's trainer, a shared GRU actor and a centralized critic) on `RoutingEnv`
and prints a before/after table: uniform random routing, two scripted greedy routers, MAPPO after
the seed's 200 episodes and at the end of the run, all evaluated on held-out seeds.

The problem (docs/examples.md, "Transaction routing")
-----------------------------------------------------
Every tick (100 ms) each of 3 routers receives one transaction, with an amount (log-normal,
median $100) and a risk factor k (uniform in [0.5, 3.5]: how exposed this counterparty is), and
routes it to one of three channels:

    channel      base latency  risk    fee    capacity
    internal     20 ms         3% k    $0.10  1.0 transaction per tick (10/s)
    external     80 ms         2% k    $0.50  1.5 per tick (15/s)
    blockchain   200 ms        1% k    $2.00  3.0 per tick (30/s, settled in batches)

The capacities are shared by the routers: a channel is a queue served at its capacity, so a
transaction's latency is the channel's base latency plus its wait behind the backlog and the
transactions routed there in the same tick. Demand is 3 transactions a tick, so the internal
channel carries one router's stream without queueing and all three routers on it add two
transactions of backlog every tick: the fast channel is slow when everyone picks it. The channels
carry the load without a growing queue only if the routers split it between them.

The portfolio risk is shared too: the amount-weighted risk (sum of amount * k * channel risk over
sum of amount) of every transaction routed in the last 10 ticks, a violation on each tick it is
over 5%. Large risky transactions on the internal channel push it over; the safer channels cost
latency and fees.

Reward: each router pays for its own transaction (1 per 100 ms its latency is over the target,
plus the fee in dollars); a tick in violation costs the team 3 plus 1 per percentage point over
the limit, which is charged to the routers by their share of the window's risk. The team reward is
the sum (the routers' costs add up to it); each router learns from 0.7 of the team's share plus 0.3
of its own cost (`ctde.team_reward_weight`), as the pack fights do.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.config import Config, config_from_dict
from models.envs.base import (
    ActionPolicy,
    EpisodeStats,
    Observation,
    StepResult,
    evaluate_policy,
)
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

FloatArray = NDArray[np.float64]

# --- the problem's constants (the seed's figures, plus the capacities this example adds) ---------

CHANNELS = ("internal", "external", "blockchain")
INTERNAL, EXTERNAL, BLOCKCHAIN = 0, 1, 2
BASE_LATENCY_MS: FloatArray = np.array([20.0, 80.0, 200.0])
CHANNEL_RISK: FloatArray = np.array([0.03, 0.02, 0.01])
FEE_USD: FloatArray = np.array([0.10, 0.50, 2.00])
#: Transactions a channel serves per tick. The internal channel fits one router's stream, the
#: external one and a half, blockchain (batched settlement) all three: no channel alone carries
#: the team's 3 a tick within the target, so the routers have to split the load.
CAPACITY: FloatArray = np.array([1.0, 1.5, 3.0])
TICK_MS = 100.0
LATENCY_TARGET_MS = 100.0
RISK_LIMIT = 0.05
RISK_WINDOW = 10  # ticks (1 s, 30 transactions) over which the portfolio risk is measured
N_ROUTERS = 3
N_CHANNELS = len(CHANNELS)

#: Transactions: log-normal amounts (median $100, a heavy tail of large ones that dominate the
#: amount-weighted risk) and a risk factor k scaling each channel's base risk. At the mean k of 2
#: the internal channel (6%) is over the 5% limit and external (4%) under it, so the limit binds
#: where the cheap channels carry large risky transactions (with [0.5, 2.5] it hardly ever did).
AMOUNT_MEDIAN_USD = 100.0
AMOUNT_SIGMA = 1.2
RISK_FACTOR_RANGE = (0.5, 3.5)

#: Reward weights: a tick over the risk limit costs about what moving one transaction from the
#: internal channel to blockchain costs (fee +$1.90, latency +100 ms over target), so safety is
#: worth buying with fees, but not by routing everything through the slowest channel.
VIOLATION_PENALTY = 3.0
EXCESS_PENALTY_PER_POINT = 1.0

#: Local observation width (the actor's `state_dim`); the features fill 16 of it.
STATE_DIM = 16
#: Each finished episode's figures, carried in EpisodeStats.extra (the problem's own units).
FIGURES = (
    "latency_ms",  # mean latency of its transactions
    "on_target",  # share of its transactions within the latency target
    "violation_rate",  # share of its ticks with the portfolio risk over the limit
    "portfolio_risk",  # mean over its ticks of the window's amount-weighted risk
    "fee_usd",  # mean fee per transaction
    *(f"{name}_share" for name in ("internal", "external", "blockchain")),
)


class RoutingEnv:
    """E routing problems of 3 routers stepped in lockstep (`models.envs.base.MultiAgentEnv`).

    Actions: 0 internal, 1 external, 2 blockchain; every router acts every tick. Episodes last
    `episode_steps` ticks and end by the time limit (`truncated`: the traffic goes on, so the
    trainer bootstraps the value of the last state). Environment e draws its transactions from its
    own stream, seeded by (seed, e), so a seed and an action sequence give one trajectory whatever
    the number of environments.

    Local observation of router i (zero-padded to `state_dim`):
        0  its transaction's amount, log10(amount) / 4
        1  its transaction's risk factor k / 3.5
        2  the portfolio risk of the window so far / the limit
        3-5  each channel's latency for one transaction routed now (backlog / capacity), seconds
        6-8  transactions routed to each channel last tick / 3
        9-11  its own router id, one-hot (the actor is shared: this lets routers take roles)
        12  the episode's elapsed share
        13-15  its transaction's risk on each channel / the limit
    Global state (the critic's): slot i holds router i's observation, so the centralized critic
    attends over all three transactions at once.
    """

    score_name = "team_return"

    def __init__(
        self,
        n_envs: int,
        seed: int = 0,
        episode_steps: int = 50,
        *,
        state_dim: int = STATE_DIM,
        signal_dim: int = 32,
        team_reward_weight: float = 0.7,
    ) -> None:
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        if episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {episode_steps}")
        if state_dim < STATE_DIM:
            raise ValueError(f"state_dim must be >= {STATE_DIM} (the features), got {state_dim}")
        if signal_dim < 1:
            raise ValueError(f"signal_dim must be >= 1, got {signal_dim}")
        if not 0.0 <= team_reward_weight <= 1.0:
            raise ValueError(f"team_reward_weight must be in [0, 1], got {team_reward_weight}")
        self.n_envs = n_envs
        self.seed = seed
        self.episode_steps = episode_steps
        self.state_dim = state_dim
        self.signal_dim = signal_dim
        self.team_reward_weight = team_reward_weight
        self.n_agents = N_ROUTERS
        self.action_dim = N_CHANNELS
        E, N, C, T = n_envs, N_ROUTERS, N_CHANNELS, episode_steps
        self._rngs = [np.random.default_rng([seed, e]) for e in range(E)]
        # Transactions of the episode, one row more for the observation after its last tick.
        self._amount = np.zeros((E, T + 1, N))
        self._risk_factor = np.zeros((E, T + 1, N))
        self._t = np.zeros(E, np.int64)
        self._backlog = np.zeros((E, C))  # transactions waiting at each channel
        self._last_arrivals = np.zeros((E, C))
        self._window_amount = np.zeros((E, RISK_WINDOW, N))
        self._window_risk = np.zeros((E, RISK_WINDOW, N))  # amount * risk
        # Episode accumulators.
        self._return = np.zeros(E)
        self._latency_sum = np.zeros(E)
        self._on_target = np.zeros(E)
        self._violations = np.zeros(E)
        self._risk_sum = np.zeros(E)
        self._fees = np.zeros(E)
        self._channel_counts = np.zeros((E, C))
        self._started = False

    # --- MultiAgentEnv ------------------------------------------------------------------------

    def reset(self) -> Observation:
        """New episodes everywhere. Each environment's random stream starts again from (seed, e),
        so two resets replay the same transactions."""
        self._rngs = [np.random.default_rng([self.seed, e]) for e in range(self.n_envs)]
        self._begin(np.arange(self.n_envs))
        self._started = True
        return self._observe()

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        """Route every router's transaction; environments whose episode ended start a new one."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        act = np.asarray(actions)
        E, N, C = self.n_envs, N_ROUTERS, N_CHANNELS
        if act.shape != (E, N):
            raise ValueError(f"actions must have shape {(E, N)}, got {act.shape}")
        if not np.issubdtype(act.dtype, np.integer):
            raise ValueError(f"actions must be integers, got dtype {act.dtype}")
        if act.min() < 0 or act.max() >= C:
            raise ValueError(f"actions must be channels 0..{C - 1}, got {act.min()}..{act.max()}")
        rows = np.arange(E)
        amount = self._amount[rows, self._t]  # (E, N)
        risk_factor = self._risk_factor[rows, self._t]
        arrivals, channel_latency = route(self._backlog, act)
        latency = np.take_along_axis(channel_latency, act, axis=1)  # (E, N)
        self._backlog = np.maximum(self._backlog + arrivals - CAPACITY, 0.0)
        self._last_arrivals = arrivals

        # The portfolio: the last RISK_WINDOW ticks of routed transactions, all routers.
        slot = self._t % RISK_WINDOW
        self._window_amount[rows, slot] = amount
        self._window_risk[rows, slot] = amount * risk_factor * CHANNEL_RISK[act]
        risk_by_router = self._window_risk.sum(axis=1)  # (E, N)
        portfolio = risk_by_router.sum(1) / self._window_amount.sum(axis=(1, 2))
        violation = portfolio > RISK_LIMIT
        penalty = np.where(
            violation,
            VIOLATION_PENALTY + EXCESS_PENALTY_PER_POINT * (portfolio - RISK_LIMIT) * 100.0,
            0.0,
        )
        # Each router is charged for the violation by its share of the window's risk.
        blame = risk_by_router / np.maximum(risk_by_router.sum(1, keepdims=True), 1e-12)

        over_target = np.maximum(latency - LATENCY_TARGET_MS, 0.0) / TICK_MS
        fee = FEE_USD[act]
        individual = -(over_target + fee) - penalty[:, None] * blame
        team = individual.sum(1)
        w = self.team_reward_weight
        agent_rewards = w * team[:, None] / N + (1.0 - w) * individual

        self._return += team
        self._latency_sum += latency.sum(1)
        self._on_target += (latency <= LATENCY_TARGET_MS).sum(1)
        self._violations += violation
        self._risk_sum += portfolio
        self._fees += fee.sum(1)
        self._channel_counts += arrivals
        self._t += 1

        done = self._t >= self.episode_steps
        obs = self._observe()
        terminal_state = np.zeros_like(obs.global_state)
        terminal_state[done] = obs.global_state[done]
        finished = np.flatnonzero(done)
        episodes = self._finish(finished)
        if finished.size:
            self._begin(finished)
            obs = self._observe()
        result = StepResult(
            team_reward=team.astype(np.float32),
            agent_rewards=agent_rewards.astype(np.float32),
            individual_rewards=individual.astype(np.float32),
            done=done,
            truncated=done.copy(),  # only the time limit ends an episode
            terminal_global_state=terminal_state,
            terminal_pack_mask=np.ones((E, N), bool),
            episodes=episodes,
        )
        return obs, result

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        """Means over finished episodes: the team return and the problem's own figures
        (latency, risk violations, fees, channel shares)."""
        if not len(episodes.env_index):
            raise ValueError("summarize needs at least one finished episode")
        missing = sorted(set(FIGURES) - set(episodes.extra))
        if missing:
            raise ValueError(f"episodes without the routing figures {missing}: another env's")
        f = {k: float(v.mean()) for k, v in episodes.extra.items()}
        out = {
            "team_return": float(episodes.team_return.mean()),
            "team_return_std": float(np.std(episodes.team_return)),
            "latency_ms": f["latency_ms"],
            "on_target_pct": 100.0 * f["on_target"],
            "risk_violation_pct": 100.0 * f["violation_rate"],
            "portfolio_risk_pct": 100.0 * f["portfolio_risk"],
            "fee_usd": f["fee_usd"],
            "mean_length": float(episodes.length.mean()),
        }
        for name in CHANNELS:
            out[f"{name}_pct"] = 100.0 * f[f"{name}_share"]
        return out

    # --- internals ----------------------------------------------------------------------------

    def _begin(self, envs: NDArray[np.integer]) -> None:
        """Start new episodes in `envs`: empty channels and window, fresh transactions."""
        T, N = self.episode_steps, N_ROUTERS
        lo, hi = RISK_FACTOR_RANGE
        for e in envs.tolist():
            rng = self._rngs[e]
            self._amount[e] = AMOUNT_MEDIAN_USD * np.exp(
                AMOUNT_SIGMA * rng.standard_normal((T + 1, N))
            )
            self._risk_factor[e] = rng.uniform(lo, hi, (T + 1, N))
        for array in (
            self._t,
            self._backlog,
            self._last_arrivals,
            self._window_amount,
            self._window_risk,
            self._return,
            self._latency_sum,
            self._on_target,
            self._violations,
            self._risk_sum,
            self._fees,
            self._channel_counts,
        ):
            array[envs] = 0

    def _finish(self, envs: NDArray[np.integer]) -> EpisodeStats:
        """EpisodeStats rows for the finished `envs` (zeros in the pack-only fields), with their
        figures in `extra`."""
        K, T, N = envs.size, self.episode_steps, N_ROUTERS
        n_tx = T * N
        shares = self._channel_counts[envs] / n_tx  # (K, C)
        extra = {
            "latency_ms": self._latency_sum[envs] / n_tx,
            "on_target": self._on_target[envs] / n_tx,
            "violation_rate": self._violations[envs] / T,
            "portfolio_risk": self._risk_sum[envs] / T,
            "fee_usd": self._fees[envs] / n_tx,
            **{f"{name}_share": shares[:, c] for c, name in enumerate(CHANNELS)},
        }
        return EpisodeStats(
            env_index=envs.astype(np.int64),
            length=np.full(K, T, np.int64),
            team_return=self._return[envs].astype(np.float64),
            extra={k: np.asarray(v, np.float64) for k, v in extra.items()},
        )

    def _observe(self) -> Observation:
        E, N, C, S = self.n_envs, N_ROUTERS, N_CHANNELS, self.state_dim
        rows = np.arange(E)
        t = np.minimum(self._t, self.episode_steps)
        amount = self._amount[rows, t]
        risk_factor = self._risk_factor[rows, t]
        window_amount = self._window_amount.sum(axis=(1, 2))
        portfolio = self._window_risk.sum(axis=(1, 2)) / np.maximum(window_amount, 1e-12)
        latency_now = BASE_LATENCY_MS + TICK_MS * self._backlog / CAPACITY  # (E, C)
        local = np.zeros((E, N, S), np.float32)
        local[:, :, 0] = np.log10(amount) / 4.0
        local[:, :, 1] = risk_factor / RISK_FACTOR_RANGE[1]
        local[:, :, 2] = (portfolio / RISK_LIMIT)[:, None]
        local[:, :, 3:6] = (latency_now / 1000.0)[:, None, :]
        local[:, :, 6:9] = (self._last_arrivals / N)[:, None, :]
        local[:, :, 9:12] = np.eye(N)[None]
        local[:, :, 12] = (t / self.episode_steps)[:, None]
        local[:, :, 13:16] = risk_factor[:, :, None] * CHANNEL_RISK[None, None, :] / RISK_LIMIT
        return Observation(
            local_obs=local,
            signals=np.zeros((E, N, self.signal_dim), np.float32),
            global_state=local.copy(),
            agent_mask=np.ones((E, N), bool),
            pack_mask=np.ones((E, N), bool),
            action_mask=np.ones((E, N, C), bool),
        )


def route(backlog: FloatArray, actions: NDArray[np.integer]) -> tuple[FloatArray, FloatArray]:
    """One tick's queueing: (E, C) transactions routed to each channel and (E, C) the latency,
    in ms, of a transaction routed there this tick.

    A channel serves CAPACITY[c] transactions a tick in arrival order; the k-th of this tick's n
    arrivals starts after the backlog and the k - 1 before it, (backlog + k - 1) / capacity ticks.
    The routers of one tick are symmetric, so each gets the mean wait of the n,
    (backlog + (n - 1) / 2) / capacity."""
    E, N = actions.shape
    arrivals = np.zeros((E, N_CHANNELS))
    np.add.at(arrivals, (np.repeat(np.arange(E), N), actions.reshape(-1)), 1.0)
    wait_ticks = (backlog + np.maximum(arrivals - 1.0, 0.0) / 2.0) / CAPACITY
    return arrivals, BASE_LATENCY_MS + TICK_MS * wait_ticks


# --- baselines --------------------------------------------------------------------------------


def random_policy(seed: int) -> ActionPolicy:
    """Each router picks a channel uniformly at random."""
    rng = np.random.default_rng(seed)

    def policy(obs: Observation) -> NDArray[np.integer]:
        return rng.integers(0, N_CHANNELS, obs.agent_mask.shape)

    return policy


def always_internal(obs: Observation) -> NDArray[np.integer]:
    """Greedy on the seed's figures: every router takes the fastest, cheapest channel."""
    return np.full(obs.agent_mask.shape, INTERNAL)


def greedy_alone(obs: Observation) -> NDArray[np.integer]:
    """Greedy on what a router sees now: the channel of least cost for its own transaction at the
    current queues (latency over the target plus fee), as if the other routers did not exist.
    All three see the same queues, so they pile onto the same channel."""
    latency_ms = obs.local_obs[:, :, 3:6].astype(np.float64) * 1000.0
    cost = np.maximum(latency_ms - LATENCY_TARGET_MS, 0.0) / TICK_MS + FEE_USD
    return np.asarray(cost.argmin(-1))


# --- the command ------------------------------------------------------------------------------

EVAL_SEED = 5_000_000  # evaluations during training (they pick the best actor)
FINAL_SEED = 9_000_000  # the table: seeds neither training nor the selection saw
SEED_EPISODES = 200  # the seed's claim is "after 200 episodes"


def build_config(hidden: int, lr: float, epochs: int, entropy: float, signal_dim: int) -> Config:
    """The YAML's defaults with the env's dimensions and small networks (3 routers, 16 inputs)."""
    return config_from_dict(
        {
            "ctde": {
                "state_dim": STATE_DIM,
                "signal_dim": signal_dim,
                "action_dim": N_CHANNELS,
                "actor": {"hidden_dim": hidden, "learning_rate": lr, "dropout": 0.0},
                "critic": {"hidden_dims": [hidden, hidden], "learning_rate": lr, "dropout": 0.0},
                "inference": {"use_signals": False},  # routers send no pack signals
                "n_epochs": epochs,
                "entropy_coef": entropy,
            },
            "advanced": {"curriculum_learning": False},  # always 3 routers
        }
    )


def figures_row(name: str, summary: dict[str, float]) -> dict[str, str]:
    return {
        "policy": name,
        "team return": f"{summary['team_return']:.1f}",
        "latency ms": f"{summary['latency_ms']:.0f}",
        "<= 100 ms": f"{summary['on_target_pct']:.0f}%",
        "risk violations": f"{summary['risk_violation_pct']:.1f}%",
        "portfolio risk": f"{summary['portfolio_risk_pct']:.2f}%",
        "fee/tx": f"${summary['fee_usd']:.2f}",
        "int/ext/chain": "/".join(f"{summary[f'{c}_pct']:.0f}" for c in CHANNELS),
    }


def text_table(rows: Sequence[dict[str, str]]) -> str:
    columns = list(rows[0])
    cells = [columns] + [[row[c] for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.routing",
        description="Train MAPPO on the transaction-routing example and print before/after.",
    )
    parser.add_argument("--episodes", type=int, default=3200, help="training episodes in all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=20, help="episodes per update")
    parser.add_argument("--episode-steps", type=int, default=50, help="ticks of 100 ms")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=7e-4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--entropy", type=float, default=0.01)
    parser.add_argument("--eval-every", type=int, default=10, help="updates between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--final-episodes", type=int, default=500)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.n_envs < 1:
        parser.error("--episodes and --n-envs must be >= 1")

    config = build_config(args.hidden, args.lr, args.epochs, args.entropy, signal_dim=32)
    steps = args.episode_steps
    settings = TrainingSettings(
        n_envs=args.n_envs,
        rollout_length=steps,  # one whole episode per environment and update
        chunk_length=min(10, steps),
        minibatches=2,
        total_updates=math.ceil(args.episodes / args.n_envs),
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        eval_seed=EVAL_SEED,
        seed=args.seed,
        torch_threads=1,
    )

    def make_env(s: TrainingSettings) -> RoutingEnv:
        return RoutingEnv(
            s.n_envs, s.seed, steps, team_reward_weight=config.ctde.team_reward_weight
        )

    def final(policy: ActionPolicy) -> dict[str, float]:
        return evaluate_policy(policy, RoutingEnv(args.final_episodes, FINAL_SEED, steps))

    print(
        f"Transaction routing: 3 routers, {steps} ticks of {TICK_MS:.0f} ms per episode; "
        f"MAPPO {args.n_envs} episodes per update, {settings.total_updates} updates "
        f"({settings.total_updates * args.n_envs} episodes), seed {args.seed}",
        flush=True,
    )
    rows = [
        figures_row("random", final(random_policy(args.seed))),
        figures_row("greedy: always internal", final(always_internal)),
        figures_row("greedy: each router alone", final(greedy_alone)),
    ]

    trainer = Trainer(
        "mappo", config=config, settings=settings, env_factory=make_env, n_agents=N_ROUTERS
    )
    actor = trainer.algorithm.actor
    # Actor weights kept along the way: at the seed's 200 episodes, and the best evaluated.
    snapshots: dict[str, tuple[float, dict[str, Any]]] = {}

    def progress(step: int, record: dict[str, float]) -> None:
        seen = step * args.n_envs
        if "early" not in snapshots and seen >= SEED_EPISODES:
            snapshots["early"] = (seen, copy.deepcopy(actor.state_dict()))
        score = record.get("eval_team_return")
        if score is None:
            return
        if score > snapshots.get("best", (-math.inf, {}))[0]:
            snapshots["best"] = (score, copy.deepcopy(actor.state_dict()))
        print(
            f"  update {step:4d}  episodes {seen:6d}  training: return "
            f"{record['team_return']:7.1f} latency {record['latency_ms']:5.0f} ms  "
            f"evaluation: return {score:7.1f} latency {record['eval_latency_ms']:5.0f} ms",
            flush=True,
        )

    started = time.perf_counter()
    trainer.train(progress=progress)
    train_s = time.perf_counter() - started
    episodes = trainer.training_step * args.n_envs
    if "best" not in snapshots:  # no evaluation ran: the last weights
        snapshots["best"] = (math.nan, copy.deepcopy(actor.state_dict()))
    if "early" in snapshots:
        seen, weights = snapshots["early"]
        actor.load_state_dict(weights)
        summary = trainer.evaluate(args.final_episodes, FINAL_SEED)
        rows.append(figures_row(f"MAPPO after {seen:.0f} episodes", summary))
    actor.load_state_dict(snapshots["best"][1])
    summary = trainer.evaluate(args.final_episodes, FINAL_SEED)
    rows.append(figures_row(f"MAPPO after {episodes} episodes (best eval)", summary))
    print(
        f"\n{args.final_episodes} held-out episodes each (seeds {FINAL_SEED}..), argmax actions; "
        f"latency target {LATENCY_TARGET_MS:.0f} ms, portfolio risk limit {RISK_LIMIT:.0%}\n"
    )
    print(text_table(rows))
    print(
        f"\ntraining: {train_s:.0f} s wall, {episodes} episodes, {trainer.training_step} updates, "
        f"{trainer.env_steps} environment steps"
    )


if __name__ == "__main__":
    main()
