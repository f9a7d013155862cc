"""The product's MAPPO trainer on a standard benchmark: simple_spread_v3 from mpe2.

    python -m bench.simple_spread [--minutes 8] [--seed 0]

Trains `CTDETrainer` (GRU actor shared by the agents, centralized attention critic, GAE, value
normalization; models/training/ctde_trainer.py) through the PettingZoo adapter
(models/envs/pettingzoo.py) for a wall-clock budget, evaluates on seeds never used in training,
prints the learning curve and writes bench/simple_spread_curve.png.

Reward scale (mpe2 simple_spread_v3, N=3, local_ratio=0.5, max_cycles=25): every step, agent i gets
    r_i = 0.5 * (-sum over landmarks of the distance to the nearest agent)
        + 0.5 * (-number of other agents it overlaps);
"team return" is the undiscounted sum of r_i over the 25 steps and the 3 agents, "per agent" that
divided by 3, "per step" divided again by 25. The authors' MAPPO code (marlbenchmark/on-policy) logs
another quantity on another MPE: each step every agent receives the shared reward
sum_i(-sum of nearest distances - overlaps, counting itself), summed over the 25 steps. On the same
trajectories that is 2 * team return - 75; the column "on-policy scale" applies it (their landmarks
are drawn from [-0.8, 0.8]^2, mpe2's from [-1, 1]^2, so the tasks are close, not equal).

Beside uniform random actions, a scripted oracle that sees every agent (least-distance landmark
assignment, then steering) marks what a good team scores on this scale; it is not learned.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from bench.common import table
from models.config import Config, config_from_dict
from models.envs.base import Observation, ReturnSummary, evaluate_team_return
from models.envs.pettingzoo import PettingZooVecEnv
from models.training.ctde_trainer import CTDETrainer
from models.training.settings import TrainingSettings

N_AGENTS, MAX_CYCLES, LOCAL_RATIO = 3, 25, 0.5
EVAL_SEED = 5_000_000  # evaluations during training (they pick the best actor)
FINAL_SEED = 9_000_000  # the final figures: seeds neither training nor the selection saw
CURVE_PNG = Path(__file__).resolve().parent / "simple_spread_curve.png"


def make_spread() -> Any:
    from mpe2 import simple_spread_v3

    return simple_spread_v3.parallel_env(
        N=N_AGENTS, local_ratio=LOCAL_RATIO, max_cycles=MAX_CYCLES, continuous_actions=False
    )


def spread_env(settings: TrainingSettings) -> PettingZooVecEnv:
    return PettingZooVecEnv(make_spread, settings.n_envs, settings.seed)


def on_policy_scale(team_return: float) -> float:
    """The same trajectories on the on-policy code's logged scale (module docstring)."""
    return 2.0 * team_return - 3.0 * MAX_CYCLES


def build_config(args: argparse.Namespace) -> Config:
    probe = spread_env(TrainingSettings(n_envs=1))
    return config_from_dict(
        {
            "ctde": {
                "state_dim": probe.state_dim,
                "action_dim": probe.action_dim,
                "actor": {
                    "hidden_dim": args.hidden,
                    "learning_rate": args.lr,
                    "use_gru": not args.no_gru,
                    "dropout": 0.0,
                },
                "critic": {
                    "hidden_dims": [args.hidden, args.hidden],
                    "learning_rate": args.lr,
                    "dropout": 0.0,
                },
                "inference": {"use_signals": False},  # PettingZoo has no pack signals
                "n_epochs": args.epochs,
                "entropy_coef": args.entropy,
            },
            "advanced": {"curriculum_learning": False},
        }
    )


#: Each agent's permutation of the landmarks, and the five discrete moves (mpe2: no-op, -x, +x,
#: -y, +y).
PERMUTATIONS = np.array(list(itertools.permutations(range(N_AGENTS))))
MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], np.float64)


def oracle_policy(obs: Observation, gain: float = 3.0) -> np.ndarray:
    """A scripted reference of what a good team scores on this scale, not a learned result: it
    reads every agent's observation at once (privileged), sends the agents to the landmark
    assignment of least total distance, and picks the move whose next velocity (mpe2's physics:
    v' = 0.75 v + 0.5 u) is closest to `gain` times the remaining offset. Observation layout:
    velocity (2), position (2), landmarks relative to the agent (2 each), other agents, comm."""
    x = obs.local_obs.astype(np.float64)
    vel, pos = x[..., 0:2], x[..., 2:4]
    landmarks = pos[:, :1] + x[:, 0, 4 : 4 + 2 * N_AGENTS].reshape(-1, N_AGENTS, 2)
    dist = np.linalg.norm(pos[:, :, None] - landmarks[:, None], axis=-1)  # (E, agent, landmark)
    cost = dist[:, np.arange(N_AGENTS)[None], PERMUTATIONS].sum(-1)  # (E, permutation)
    target = landmarks[np.arange(len(x))[:, None], PERMUTATIONS[cost.argmin(1)]]
    wanted = gain * (target - pos)
    following = 0.75 * vel[:, :, None] + 0.5 * MOVES[None, None]
    return np.asarray(np.linalg.norm(following - wanted[:, :, None], axis=-1).argmin(-1))


def random_summary(episodes: int, seed: int) -> ReturnSummary:
    rng = np.random.default_rng(seed)

    def policy(obs: Observation) -> np.ndarray:
        return np.asarray((rng.random(obs.action_mask.shape) * obs.action_mask).argmax(-1))

    return evaluate_team_return(policy, PettingZooVecEnv(make_spread, episodes, seed))


def returns_row(name: str, s: ReturnSummary) -> dict[str, object]:
    return {
        "policy": name,
        "team return": f"{s.team_return:.1f} +- {s.team_return_std:.1f}",
        "per agent": f"{s.team_return / N_AGENTS:.2f}",
        "per agent-step": f"{s.team_return / N_AGENTS / MAX_CYCLES:.3f}",
        "on-policy scale": f"{on_policy_scale(s.team_return):.1f}",
    }


def plot(
    updates: list[dict[str, float]],
    evals: list[tuple[float, float]],
    random_return: float,
    oracle_return: float,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([u["env_steps"] for u in updates])
    train = np.array([u["team_return"] for u in updates])
    window = max(1, len(train) // 40)
    smooth = np.convolve(train, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(steps, train, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(steps[window - 1 :], smooth, color="tab:blue", label="training episodes (sampling)")
    ax.plot(
        [s for s, _ in evals],
        [r for _, r in evals],
        "o-",
        color="tab:orange",
        label="held-out evaluation (argmax)",
    )
    ax.axhline(random_return, color="grey", ls="--", label="uniform random actions")
    ax.axhline(oracle_return, color="tab:green", ls=":", label="scripted oracle (privileged)")
    ax.set_xlabel("environment steps (each: 3 agents act)")
    ax.set_ylabel("team return per episode (sum over 3 agents, 25 steps)")

    def to_agent(y: ArrayLike) -> ArrayLike:
        return np.asarray(y) / N_AGENTS

    def to_team(y: ArrayLike) -> ArrayLike:
        return np.asarray(y) * N_AGENTS

    per_agent = ax.secondary_yaxis("right", functions=(to_agent, to_team))
    per_agent.set_ylabel("per-agent return")
    ax.set_title("MAPPO (CTDETrainer) on mpe2 simple_spread_v3, N=3, 25 steps")
    # Below the axes: wherever the curve ends, it is never hidden.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-clock budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minibatches", type=int, default=1)
    parser.add_argument("--lr", type=float, default=7e-4)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--entropy", type=float, default=0.01)
    parser.add_argument("--no-gru", action="store_true", help="feed-forward actor")
    parser.add_argument("--eval-every", type=int, default=20, help="updates between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=200)
    parser.add_argument("--final-episodes", type=int, default=1000)
    parser.add_argument("--plot", type=Path, default=CURVE_PNG)
    args = parser.parse_args()

    config = build_config(args)
    settings = TrainingSettings(
        n_envs=args.n_envs,
        rollout_length=MAX_CYCLES,  # one whole episode per env and update
        chunk_length=MAX_CYCLES,  # the GRU is re-run over whole episodes
        minibatches=args.minibatches,
        total_updates=10**9,  # the time budget ends the run
        time_budget_s=args.minutes * 60,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        eval_seed=EVAL_SEED,
        seed=args.seed,
        torch_threads=1,  # a shared 2-core machine
    )
    c = config.ctde
    print(
        f"simple_spread_v3 (mpe2): N={N_AGENTS}, local_ratio={LOCAL_RATIO}, "
        f"max_cycles={MAX_CYCLES}, discrete actions; obs {c.state_dim}, actions {c.action_dim}\n"
        f"MAPPO: {args.n_envs} envs x {MAX_CYCLES} steps per update, {c.n_epochs} epochs x "
        f"{args.minibatches} minibatch, lr {args.lr:g}, entropy {c.entropy_coef:g}, "
        f"actor {'GRU' if c.actor.use_gru else 'MLP'} {c.actor.hidden_dim}, critic "
        f"{list(c.critic.hidden_dims)} attention over agents, gamma {c.gamma}, "
        f"GAE {c.gae_lambda}, clip {c.clip_epsilon}, seed {args.seed}, torch threads 1\n"
        f"budget {args.minutes:g} min; evaluation every {args.eval_every} updates on "
        f"{args.eval_episodes} held-out episodes (argmax actions)\n"
        "reward: r_i = 0.5*(-sum of landmark-to-nearest-agent distances) - 0.5*(overlaps of i); "
        "team return = sum over 25 steps and 3 agents\n",
        flush=True,
    )

    trainer = CTDETrainer(config, n_agents=N_AGENTS, settings=settings, env_factory=spread_env)
    untrained = trainer.evaluate_return(args.final_episodes, FINAL_SEED)
    started = time.perf_counter()
    best: tuple[float, dict[str, torch.Tensor]] = (-np.inf, {})
    curve: list[dict[str, object]] = []
    since: list[float] = []

    def progress(step: int, record: dict[str, float]) -> None:
        nonlocal best
        since.append(record["team_return"])
        if "eval_team_return" not in record:
            return
        score = record["eval_team_return"]
        if score > best[0]:
            best = (score, {k: v.clone() for k, v in trainer.actor.state_dict().items()})
        row = {
            "update": step,
            "env steps": f"{int(record['env_steps']):,}",
            "minutes": f"{(time.perf_counter() - started) / 60:.1f}",
            "train team": f"{np.mean(since):.1f}",
            "eval team": f"{score:.1f}",
            "eval per agent": f"{score / N_AGENTS:.2f}",
            "eval per agent-step": f"{score / N_AGENTS / MAX_CYCLES:.3f}",
        }
        since.clear()
        curve.append(row)
        print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)

    trainer.train(progress=progress)
    train_s = time.perf_counter() - started
    updates = trainer.history.updates

    print("\n## Learning curve (train: sampled actions, mean of the episodes since the last row;")
    print("## eval: argmax actions, one episode in each of the held-out environments)")
    columns = list(curve[0]) if curve else []
    print(table(curve, columns))

    rand = random_summary(args.final_episodes, FINAL_SEED)
    oracle = evaluate_team_return(
        oracle_policy, PettingZooVecEnv(make_spread, args.final_episodes, FINAL_SEED)
    )
    final = trainer.evaluate_return(args.final_episodes, FINAL_SEED)
    rows = [
        returns_row("uniform random actions", rand),
        returns_row("scripted oracle (privileged)", oracle),
        returns_row("untrained actor (argmax)", untrained),
        returns_row("trained, last update", final),
    ]
    if best[1]:
        trainer.actor.load_state_dict(best[1])
        rows.append(
            returns_row(
                "trained, best evaluation",
                trainer.evaluate_return(args.final_episodes, FINAL_SEED),
            )
        )
    print(f"\n## Final: {args.final_episodes} episodes on seeds {FINAL_SEED}.. (argmax actions)")
    print(table(rows, list(rows[0])))
    print(
        f"\ntraining: {train_s:.0f} s, {trainer.training_step} updates, "
        f"{trainer.env_steps:,} env steps ({trainer.env_steps * N_AGENTS:,} agent steps); "
        f"{np.mean([u['env_steps_per_s'] for u in updates]):,.0f} env-steps/s while collecting, "
        f"{np.mean([u['samples_per_s'] for u in updates]):,.0f} agent samples/s overall"
    )
    evals = [
        (updates[int(e["update"]) - 1]["env_steps"], e["eval_team_return"])
        for e in trainer.history.evaluations
    ]
    plot(updates, evals, rand.team_return, oracle.team_return, args.plot)
    print(f"learning curve: {args.plot}")


if __name__ == "__main__":
    main()
