"""Does the database's pack enrichment raise the pack actor's win rate? MAPPO on the contract
simulator (action_space="pack", signals on), trained with the contract's 64 floats alone and with
the 64 floats plus the pack features the database computes from ml.monsters
(models/envs/contract_combat/enrichment.py, K more inputs), each for a time budget or a fixed
number of updates, over several seeds, one run after another; each run evaluated on held-out
fights (argmax). docs/enrichment.md reports the result.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.enrichment [--budget 240] [--updates 0]
        [--seeds 0 1] [--episodes 500] [--eval-seed 1000000]

--updates N > 0 trains every run for exactly N updates (no time limit): on a loaded machine a time
budget gives the two arms different amounts of training. The settings are those of the 71.0%
reference run (docs/enrichment.md): n_envs 64, rollout 32, max_steps 100, actor GRU 64 wide,
lr 7e-4, critic [128, 128] lr 1e-3, no dropout, no curriculum; only ctde.state_dim differs
(64 + K when enriched; the critic's global state is padded with K zeros, so it sees the same).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import asdict, dataclass

from models.config import Config, config_from_dict, default_config
from models.envs.contract_combat.enrichment import K
from models.envs.contract_combat.env import ContractCombatEnv
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

ARMS = ("contract", "enriched")


@dataclass
class Run:
    arm: str
    seed: int
    win: float
    defeat: float
    timeout: float
    updates: int
    env_steps: int
    train_s: float
    load: float  # 1-minute load average at the end of training


def config(enrich: bool) -> Config:
    raw = asdict(default_config())
    raw["ctde"]["action_dim"] = 7
    raw["ctde"]["state_dim"] = 64 + K if enrich else 64
    raw["ctde"]["actor"].update(
        {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007, "use_gru": True}
    )
    raw["ctde"]["critic"].update(
        {"hidden_dims": [128, 128], "dropout": 0.0, "learning_rate": 0.001}
    )
    raw["ctde"]["inference"]["use_signals"] = True
    raw["advanced"]["curriculum_learning"] = False
    return config_from_dict(raw)


def run(arm: str, seed: int, budget: float, updates: int, episodes: int, eval_seed: int) -> Run:
    enrich = arm == "enriched"
    settings = TrainingSettings(
        n_envs=64,
        rollout_length=32,
        total_updates=updates if updates > 0 else 100_000,
        time_budget_s=0.0 if updates > 0 else budget,
        max_steps=100,
        eval_every=0,
        seed=seed,
    )
    trainer = Trainer(
        "mappo",
        config(enrich),
        settings,
        env_factory=lambda s: ContractCombatEnv(
            s.n_envs, seed=s.seed, max_steps=s.max_steps, action_space="pack", enrich=enrich
        ),
    )
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    load = os.getloadavg()[0]
    summary = trainer.evaluate(episodes=episodes, seed=eval_seed)
    return Run(
        arm,
        seed,
        summary["win_rate"],
        summary["defeat_rate"],
        summary["timeout_rate"],
        trainer.training_step,
        trainer.env_steps,
        train_s,
        load,
    )


def table(runs: list[Run], seeds: list[int]) -> str:
    lines = [
        "| arm | seed | win | defeat | timeout | updates | env steps | train s | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.arm} | {r.seed} | {r.win:.3f} | {r.defeat:.3f} | {r.timeout:.3f} | "
            f"{r.updates} | {r.env_steps:,} | {r.train_s:.0f} | {r.load:.2f} |"
        )
    for arm in ARMS:
        rs = [r for r in runs if r.arm == arm]
        if not rs:
            continue
        wins = [r.win for r in rs]
        spread = f" (sd {statistics.stdev(wins):.3f})" if len(wins) > 1 else ""
        lines.append(
            f"| {arm} | mean | {statistics.mean(wins):.3f}{spread} | "
            f"{statistics.mean(r.defeat for r in rs):.3f} | "
            f"{statistics.mean(r.timeout for r in rs):.3f} | "
            f"{statistics.mean(r.updates for r in rs):.0f} | "
            f"{statistics.mean(r.env_steps for r in rs):,.0f} | "
            f"{statistics.mean(r.train_s for r in rs):.0f} | |"
        )
    by = {(r.arm, r.seed): r.win for r in runs}
    diffs = [by["enriched", s] - by["contract", s] for s in seeds if ("enriched", s) in by]
    if diffs and len(diffs) == len(seeds):
        per_seed = ", ".join(f"{d:+.3f}" for d in diffs)
        lines.append("")
        lines.append(
            f"enriched - contract, per seed: {per_seed}; mean {statistics.mean(diffs):+.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=240.0, help="training seconds per run")
    p.add_argument("--updates", type=int, default=0, help="> 0: this many updates, no budget")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--episodes", type=int, default=500)
    p.add_argument("--eval-seed", type=int, default=1_000_000)
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    a = p.parse_args()
    what = f"{a.updates} updates" if a.updates > 0 else f"{a.budget:.0f} s"
    print(f"K = {K}; {what} per run; {a.episodes} held-out fights from seed {a.eval_seed}")
    runs: list[Run] = []
    for seed in a.seeds:
        for arm in a.arms:
            r = run(arm, seed, a.budget, a.updates, a.episodes, a.eval_seed)
            runs.append(r)
            print(
                f"{arm} seed {seed}: win {r.win:.3f} after {r.updates} updates "
                f"({r.train_s:.0f} s, load {r.load:.2f})",
                flush=True,
            )
    print()
    print(table(runs, a.seeds))


if __name__ == "__main__":
    main()
