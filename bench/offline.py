"""Offline CQL from recorded play, measured (docs/offline.md):

    python -m bench.offline [--fights 64] [--steps 150] [--updates 30] [--alphas 0 1 4]

1. Recording: the traditional AI plays `fights` contract fights for `steps` steps (combat action
   space); every acting monster-step is recorded through `ml.record_experience` as the game server's
   role, in calls of limits.experience_rows (4096) rows, into a fresh benchmark database; then the
   loader reads them back as the worker's role. Reported: rows, seconds per call (the client's
   conversion of Python lists included: a C++ game server sends binary arrays), load seconds.
2. Learning: CQL (64 wide, batches of 256, 100 gradient steps an update) for `updates` updates for
   each alpha (0: the same offline double DQN without the CQL term). Reported: how often the
   Q-greedy action is the recorded one on held-out fights' states (other seeds; and the share of
   the most frequent action there: always answering it scores that), and the win rate on 500
   held-out simulator fights played as a combat model is served (each action drawn from
   softmax(Q) by the state) and greedily (argmax Q). The traditional AI and uniform random play
   are evaluated on the same fights.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.common import bench_sql, fresh_database, table, url_as
from config.model_types import COMBAT
from config.queries import connect_raw
from models.envs.base import MultiAgentEnv, evaluate_policy
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.offline.cql import CQL
from models.offline.dataset import OfflineDataset, load_offline_dataset, play_transitions
from models.training.job import parse_job_config
from models.training.loop import Trainer

DATABASE = "ragnarok_ml_bench_offline"
EVAL_SEED = 7_000_000
EVAL_FIGHTS = 500
ROWS_PER_CALL = 4096


def record(game_url: str, dataset: OfflineDataset) -> list[float]:
    """Every transition through ml.record_experience, as the game server's role; seconds a call."""
    seconds = []
    with connect_raw(game_url, autocommit=True) as conn:
        for start in range(0, len(dataset), ROWS_PER_CALL):
            part = dataset.subset(np.arange(start, min(start + ROWS_PER_CALL, len(dataset))))
            tick = time.perf_counter()
            conn.execute(
                bench_sql("record_experience").encode(),
                (
                    list(range(start + 1, start + 1 + len(part))),
                    "aggressive",
                    COMBAT,
                    part.states.tolist(),
                    part.actions.tolist(),
                    part.rewards.tolist(),
                    part.next_states.tolist(),
                    part.dones.tolist(),
                ),
            )
            seconds.append(time.perf_counter() - tick)
    return seconds


def train(alpha: float, updates: int, data: OfflineDataset) -> Trainer:
    config, settings, hp = parse_job_config(
        {
            "training": {"model_type": COMBAT, "total_updates": updates, "eval_every": 0,
                         "n_envs": 2, "eval_episodes": EVAL_FIGHTS, "eval_seed": EVAL_SEED},
            "ctde": {"actor": {"hidden_dim": 64}},
            "algorithm": {"alpha": alpha},
        },
        "cql",
    )  # fmt: skip
    t = Trainer("cql", config, settings, hyperparameters=hp)
    assert isinstance(t.algorithm, CQL)
    t.algorithm.attach_dataset(data)
    t.train()
    return t


def wins(policy: Any, env: MultiAgentEnv) -> float:
    return float(evaluate_policy(policy, env)["win_rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fights", type=int, default=64)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.0, 1.0, 4.0])
    args = parser.parse_args()

    env = ContractCombatEnv(args.fights, seed=7, max_steps=80, action_space="combat")
    played, _ = play_transitions(env, TraditionalPolicy(env, seed=7), args.steps)
    fresh_database(DATABASE)
    calls = record(url_as(DATABASE, "ml_user"), played)
    tick = time.perf_counter()
    data = load_offline_dataset(url_as(DATABASE, "ml_worker"), "aggressive", COMBAT, 10**7)
    load_s = time.perf_counter() - tick
    assert len(data) == len(played)
    print(
        f"recorded {len(data)} transitions in {len(calls)} calls, "
        f"{np.mean(calls):.2f} s a call of up to {ROWS_PER_CALL}; loaded in {load_s:.2f} s"
    )

    held_env = ContractCombatEnv(16, seed=99, max_steps=80, action_space="combat")
    held, _ = play_transitions(held_env, TraditionalPolicy(held_env, seed=99), 60)
    majority = np.bincount(held.actions).max() / len(held)
    rows: list[dict[str, object]] = []
    for alpha in args.alphas:
        tick = time.perf_counter()
        t = train(alpha, args.updates, data)
        seconds = time.perf_counter() - tick
        assert isinstance(t.algorithm, CQL)
        greedy = t.algorithm.greedy_actions(held.states)
        rows.append(
            {
                "policy": f"cql alpha={alpha:g}",
                "held-out agreement": float((greedy == held.actions).mean()),
                "win (served, drawn)": t.evaluate()["win_rate"],
                "win (argmax Q)": wins(t.algorithm.policy(), t.make_env(EVAL_FIGHTS, EVAL_SEED)),
                "train s": seconds,
            }
        )
    fights = ContractCombatEnv(EVAL_FIGHTS, seed=EVAL_SEED, max_steps=80, action_space="combat")
    rows.append(
        {"policy": "traditional AI (recorded)", "win (served, drawn)": wins(
            TraditionalPolicy(fights, seed=1), fights)}
    )  # fmt: skip
    rng = np.random.default_rng(0)
    fights = ContractCombatEnv(EVAL_FIGHTS, seed=EVAL_SEED, max_steps=80, action_space="combat")
    rows.append(
        {"policy": "uniform random (0-9)", "win (served, drawn)": wins(
            lambda obs: rng.integers(0, 10, obs.agent_mask.shape), fights)}
    )  # fmt: skip
    print(f"held-out transitions: {len(held)}; the most frequent action's share: {majority:.3f}")
    columns = ["policy", "held-out agreement", "win (served, drawn)", "win (argmax Q)", "train s"]
    print(table(rows, columns))


if __name__ == "__main__":
    main()
