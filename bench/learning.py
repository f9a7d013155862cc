"""Evidence that CTDE training learns pack tactics, from scratch, on the standard scenario.

    python -m bench.learning [--minutes 15] [--seed 0]

Trains MAPPO (centralized critic, GRU actors sharing parameters, curriculum 2 -> 5) on the
pack-combat simulator within the time budget, then evaluates 500 episodes on seeds never used in
training, beside (a) random actions and (b) the scripted rAthena-style baseline (every monster
attacks the nearest adventurer). Writes bench/learning_curve.png and prints the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import table
from models.config import config_from_dict
from models.envs.pack_combat.policies import (
    EvalSummary,
    evaluate,
    nearest_attack_policy,
    random_policy,
)
from models.training.ctde_trainer import CTDETrainer
from models.training.settings import TrainingSettings

EVAL_SEED = 5_000_000  # training seeds are 0..; the evaluation fights start far away from them
CONFIG = {
    "ctde": {
        "actor": {"hidden_dim": 64, "dropout": 0.0, "learning_rate": 0.0007},
        "critic": {"hidden_dims": [128, 128], "dropout": 0.0, "learning_rate": 0.001},
    },
    "advanced": {"curriculum_learning": True, "size_increase_interval": 15},
}


def row(name: str, summary: EvalSummary) -> dict[str, object]:
    return {
        "policy": name,
        "win rate": summary.win_rate,
        "coordinated kills": summary.coordinated_kills,
        "pack survival": summary.pack_survival,
        "coordination": summary.coordination_score,
    }


def plot(trainer: CTDETrainer, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    updates = trainer.history.updates
    evals = trainer.history.evaluations
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(
        [u["env_steps"] for u in updates], [u["win_rate"] for u in updates], label="training fights"
    )
    top.plot(
        [updates[int(e["update"]) - 1]["env_steps"] for e in evals],
        [e["eval_win_rate"] for e in evals],
        marker="o",
        label="held-out evaluation",
    )
    top.set_ylabel("win rate")
    top.legend()
    bottom.plot(
        [updates[int(e["update"]) - 1]["env_steps"] for e in evals],
        [e["eval_coordination_score"] for e in evals],
        marker="o",
        color="tab:green",
    )
    bottom.set_ylabel("coordination score (eval)")
    bottom.set_xlabel("simulator environment steps")
    fig.suptitle("MAPPO on the pack-combat simulator (standard scenario)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=500)
    args = parser.parse_args()
    settings = TrainingSettings(
        n_envs=64,
        rollout_length=32,
        total_updates=100_000,
        time_budget_s=args.minutes * 60,
        eval_every=15,
        eval_episodes=200,
        early_stopping_patience=12,
        seed=args.seed,
    )
    trainer = CTDETrainer(config_from_dict(CONFIG), settings=settings)
    started = time.perf_counter()
    trainer.train(checkpoint_dir=Path("runs/bench_learning"), show_progress_bar=True)
    train_s = time.perf_counter() - started
    rows: list[dict[str, object]] = []
    baseline_win = 0.0
    for name, policy in (
        ("random actions", random_policy),
        ("scripted: attack nearest", nearest_attack_policy),
    ):
        summary = evaluate(policy, n_episodes=args.episodes, seed=EVAL_SEED)
        rows.append(row(name, summary))
        baseline_win = summary.win_rate  # the last one: the scripted baseline
    trained = trainer.evaluate(episodes=args.episodes, seed=EVAL_SEED)
    rows.append(row("trained CTDE actor", trained))
    print(table(rows, ["policy", "win rate", "coordinated kills", "pack survival", "coordination"]))
    updates = trainer.history.updates
    evals = trainer.history.evaluations
    env_rate = sum(u["env_steps_per_s"] for u in updates) / len(updates)
    sample_rate = sum(u["samples_per_s"] for u in updates) / len(updates)
    print(
        f"\ntraining: {train_s:.0f} s, {trainer.training_step} updates, "
        f"{trainer.env_steps:,} env steps; simulator {env_rate:,.0f} env-steps/s while collecting, "
        f"training {sample_rate:,.0f} agent samples/s (collection and updates)"
    )
    print(
        "coordination score over training (held-out evaluations): "
        + ", ".join(f"{e['eval_coordination_score']:.2f}" for e in evals)
    )
    margin = 100 * (trained.win_rate - baseline_win)
    print(f"win rate margin over the scripted baseline: {margin:.1f} points")
    plot(trainer, Path(__file__).resolve().parent / "learning_curve.png")
    print("learning curve: bench/learning_curve.png")


if __name__ == "__main__":
    main()
