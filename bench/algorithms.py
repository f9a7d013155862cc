"""Every registered algorithm, side by side: the pack simulator and MPE simple_spread.

    python -m bench.algorithms [--pack-minutes 3] [--spread-steps 300000 1000000]
                               [--algorithms mappo qmix ...] [--skip-pack] [--skip-spread]

1. Pack simulator (the product's task): each algorithm trains for the same wall-clock budget on
   the standard scenario (curriculum 2 -> 5), then plays 500 held-out fights (argmax actions);
   reported: win rate, updates, environment steps and env steps per second of training.
2. mpe2 simple_spread_v3 (N=3, 25 steps, discrete; the scale of bench/simple_spread.py): each
   algorithm trains until each step milestone and is evaluated there on 500 held-out episodes;
   reported: team return (sum over the 3 agents and 25 steps) and per agent (divided by 3, the
   scale EPyMARL's tables use).

Networks are the same size everywhere (actor 64 wide with a GRU, MADDPG's without); each
algorithm's own settings are in SETTINGS below, with the reason for each. One torch thread.
Besides the table, a floor is run in the same process: uniform random actions on the same
held-out episodes, so every figure has its ratio to doing nothing learned.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common import table
from models.algorithms.registry import ALGORITHMS
from models.config import config_from_dict
from models.envs.base import Observation, evaluate_policy
from models.envs.pettingzoo import PettingZooVecEnv
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

PACK_EVAL_SEED = 5_000_000
SPREAD_EVAL_SEED = 9_000_000
N_SPREAD, CYCLES = 3, 25


@dataclass(frozen=True)
class Setup:
    """One algorithm's run settings on one task."""

    n_envs: int
    rollout_length: int
    hyperparameters: dict[str, Any]


#: On-policy: many environments per update (MAPPO's authors use 128 on MPE). Off-policy: on MPE
#: one gradient step per 25 environment steps, as EPyMARL runs them (one episode per step;
#: QMIX/VDN: batches of 32 episodes, hard target copies every 200 gradient steps, epsilon
#: 1 -> 0.05 over 50k steps; MADDPG: batches of 256 transitions, Polyak 0.01); a first run with one
#: per 200 (QMIX) and 100 (MADDPG) steps learned little by 300k steps (bench/RESULTS.md). On the
#: pack simulator, where an update costs more (80-step episodes, 5 agents), one per 128.
PACK: dict[str, Setup] = {
    "mappo": Setup(64, 32, {}),
    "ippo": Setup(64, 32, {}),
    "qmix": Setup(16, 32, {"train_steps_per_iteration": 4, "buffer_episodes": 2000}),
    "vdn": Setup(16, 32, {"train_steps_per_iteration": 4, "buffer_episodes": 2000}),
    "maddpg": Setup(16, 32, {"train_steps_per_iteration": 4, "buffer_size": 100_000}),
}
SPREAD: dict[str, Setup] = {
    "mappo": Setup(64, CYCLES, {}),
    "ippo": Setup(64, CYCLES, {}),
    "qmix": Setup(16, CYCLES, {"train_steps_per_iteration": 16, "buffer_episodes": 5000}),
    "vdn": Setup(16, CYCLES, {"train_steps_per_iteration": 16, "buffer_episodes": 5000}),
    "maddpg": Setup(16, CYCLES, {"train_steps_per_iteration": 16, "buffer_size": 200_000}),
}

PACK_CONFIG = {
    "ctde": {
        "actor": {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007},
        "critic": {"hidden_dims": [128, 128], "dropout": 0.0, "learning_rate": 0.001},
    },
    "advanced": {"curriculum_learning": True, "size_increase_interval": 15},
}


def spread_config() -> dict[str, Any]:
    return {
        "ctde": {
            "state_dim": 18,
            "action_dim": 5,
            "actor": {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007},
            "critic": {"hidden_dims": [64, 64], "dropout": 0.0, "learning_rate": 0.0007},
            "inference": {"use_signals": False},
            "n_epochs": 10,
        },
        "advanced": {"curriculum_learning": False},
    }


def make_spread() -> Any:
    from mpe2 import simple_spread_v3

    return simple_spread_v3.parallel_env(
        N=N_SPREAD, local_ratio=0.5, max_cycles=CYCLES, continuous_actions=False
    )


def random_policy(seed: int) -> Any:
    rng = np.random.default_rng(seed)

    def act(obs: Observation) -> np.ndarray:
        return np.asarray((rng.random(obs.action_mask.shape) * obs.action_mask).argmax(-1))

    return act


def pack_run(name: str, minutes: float, seed: int, episodes: int) -> dict[str, object]:
    setup = PACK[name]
    settings = TrainingSettings(
        n_envs=setup.n_envs,
        rollout_length=setup.rollout_length,
        total_updates=10**9,
        time_budget_s=minutes * 60,
        minibatches=1 if name in ("mappo", "ippo") else 4,
        eval_every=0,
        seed=seed,
    )
    trainer = Trainer(
        name, config_from_dict(PACK_CONFIG), settings, hyperparameters=setup.hyperparameters
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    summary = trainer.evaluate(episodes=episodes, seed=PACK_EVAL_SEED)
    return {
        "algorithm": name,
        "win rate": f"{summary['win_rate']:.3f}",
        "coordination": f"{summary['coordination_score']:.2f}",
        "updates": trainer.training_step,
        "env steps": f"{trainer.env_steps:,}",
        "env steps/s": f"{trainer.env_steps / seconds:,.0f}",
    }


def spread_run(
    name: str, milestones: list[int], seed: int, episodes: int
) -> list[dict[str, object]]:
    setup = SPREAD[name]
    settings = TrainingSettings(
        n_envs=setup.n_envs,
        rollout_length=setup.rollout_length,
        chunk_length=CYCLES,
        minibatches=1,
        total_updates=10**9,
        eval_every=0,
        seed=seed,
    )
    trainer = Trainer(
        name,
        config_from_dict(spread_config()),
        settings,
        env_factory=lambda s: PettingZooVecEnv(make_spread, s.n_envs, s.seed),
        hyperparameters=setup.hyperparameters,
        n_agents=N_SPREAD,
    )
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for milestone in milestones:
        while trainer.env_steps < milestone:
            trainer.step()
        seconds = time.perf_counter() - started
        summary = trainer.evaluate(episodes=episodes, seed=SPREAD_EVAL_SEED)
        rows.append(
            {
                "algorithm": name,
                "env steps": f"{trainer.env_steps:,}",
                "team return": f"{summary['team_return']:.1f}",
                "per agent": f"{summary['team_return'] / N_SPREAD:.2f}",
                "minutes": f"{seconds / 60:.1f}",
                "env steps/s": f"{trainer.env_steps / seconds:,.0f}",
            }
        )
        print("  ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", nargs="+", default=sorted(ALGORITHMS))
    parser.add_argument("--pack-minutes", type=float, default=3.0)
    parser.add_argument("--spread-steps", type=int, nargs="+", default=[300_000])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pack", action="store_true")
    parser.add_argument("--skip-spread", action="store_true")
    args = parser.parse_args()
    unknown = sorted(set(args.algorithms) - set(ALGORITHMS))
    if unknown:
        parser.error(f"unknown algorithms {unknown} (known: {sorted(ALGORITHMS)})")

    if not args.skip_pack:
        floor_env = Trainer("mappo", config_from_dict(PACK_CONFIG), TrainingSettings()).make_env(
            args.episodes, PACK_EVAL_SEED
        )
        floor = evaluate_policy(random_policy(args.seed), floor_env)["win_rate"]
        print(
            f"## Pack simulator: {args.pack_minutes:g} min of training each, "
            f"{args.episodes} held-out fights (argmax); random actions win {floor:.3f}"
        )
        rows = []
        for name in args.algorithms:
            row = pack_run(name, args.pack_minutes, args.seed, args.episodes)
            row["x random"] = f"{float(str(row['win rate'])) / max(floor, 1e-9):.1f}"
            print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
            rows.append(row)
        print(table(rows, list(rows[0])))

    if not args.skip_spread:
        floor_env = PettingZooVecEnv(make_spread, args.episodes, SPREAD_EVAL_SEED)
        floor = evaluate_policy(random_policy(args.seed), floor_env)["team_return"]
        print(
            f"\n## simple_spread_v3: milestones {args.spread_steps}, {args.episodes} held-out "
            f"episodes (argmax); random actions: team return {floor:.1f}, "
            f"per agent {floor / N_SPREAD:.2f}"
        )
        rows = []
        for name in args.algorithms:
            rows += spread_run(name, sorted(args.spread_steps), args.seed, args.episodes)
        print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
