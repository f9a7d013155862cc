"""Where training runs, measured in one run (issue: training on Ray): env steps per second and
wall-clock to a held-out win rate for RLlib PPO with 0, 1 and 2 env runners and for the product's
own MAPPO with and without Ray env runners; Ray's start-up time and memory.

    python -m bench.scaling [--minutes 3] [--target 0.7] [--eval-every-s 30] [--rows ...]

Every row trains the pack actor (the contract simulator, 7 pack actions through their recipes,
packs 2 -> 5 by curriculum) from scratch through the path an SQL training job takes
(models.training.job.parse_job_config with the demo's job config, scripts/demo.py), the same
64 fights per update, for `--minutes` of training time each. Every `--eval-every-s` seconds of
training the actor plays 200 held-out fights as served (argmax); the evaluations' time is not
counted as training time. An env step is one fight stepped once (64 fights stepping once: 64).

Printed per row: updates, env steps, env steps/s over the row (throughput) and the median and p99
of one update's seconds, the ratio of its throughput to the floor, where an update's time went
(RLlib: its sampling and learner timers; in-house: the simulator's steps, on Ray actors or not,
and the rest: the actor's forward passes and the update), the best held-out win rate and the
training seconds until the target was first reached (or "-"). The floor, run in the same
process first: the simulator alone stepping 64 fights with random pack actions, no learning.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from typing import Any

import numpy as np
import psutil  # type: ignore[import-untyped]

from bench.common import summarize, table
from models.envs.contract_combat.env import ContractCombatEnv
from models.training.job import parse_job_config
from models.training.loop import Trainer
from scripts.demo import pack_training_config

EVAL_EPISODES = 200
ROWS = ("rllib_ppo:0", "rllib_ppo:1", "rllib_ppo:2", "mappo:0", "mappo:ray2")


def floor_env_steps_per_s(seconds: float = 5.0) -> float:
    """The simulator alone: 64 fights, random pack actions, as fast as numpy steps them."""
    env = ContractCombatEnv(64, seed=0, max_steps=100, action_space="pack")
    rng = np.random.default_rng(0)
    env.reset()
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        env.step(rng.integers(0, env.n_actions, (64, 5)))
        steps += 64
    return steps / (time.perf_counter() - started)


def ray_processes_rss_mb() -> float:
    """Resident memory of Ray's own processes on this machine (GCS, raylet, workers, ...)."""
    total = 0
    for proc in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.pid != os.getpid() and ("ray" in cmdline and "/ray/" in cmdline):
            total += proc.info["memory_info"].rss
    return total / 2**20


def ray_start() -> dict[str, object]:
    """Ray's start-up: importing it and starting (or joining) the cluster, and its memory."""
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    from models.rllib import cluster

    # Two env runners and a learner ask for 3 CPUs: the local Ray offers 4 on the 2 cores, so
    # every row runs (oversubscribed, as the rows' throughput shows).
    info = cluster.connect(num_cpus=4)
    seconds = time.perf_counter() - started
    return {
        "start_s": round(seconds, 2),
        "driver_mb": round((psutil.Process().memory_info().rss - rss_before) / 2**20),
        "ray_processes_mb": round(ray_processes_rss_mb()),
        "cluster": info.line(),
    }


def job_config(name: str, runners: int, seconds: float, seed: int) -> dict[str, Any]:
    raw = copy.deepcopy(pack_training_config(seconds))
    raw["training"].update(
        total_updates=1_000_000,
        eval_every=0,
        seed=seed,
        num_env_runners=runners,
    )
    raw["training"].pop("register_archetypes", None)
    if name.startswith("rllib_"):
        # RLlib's MLP at the pack actor's width; one update per 32 steps of the 64 fights.
        raw["algorithm"] = {"hidden_layers": [64, 64], "lr": 7e-4}
    return raw


def time_env_steps(trainer: Trainer) -> list[float]:
    """Seconds of every env.step of the trainer's (possibly Ray-backed) environment."""
    seconds: list[float] = []
    env = trainer.env
    step = env.step

    def timed(actions: Any, *args: Any, **kwargs: Any) -> Any:
        tick = time.perf_counter()
        try:
            return step(actions, *args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - tick)

    env.step = timed  # type: ignore[method-assign]
    return seconds


def run_row(spec: str, args: argparse.Namespace) -> dict[str, object]:
    name, _, runners_text = spec.partition(":")
    runners = int(runners_text.removeprefix("ray"))
    label = f"{name}, {runners} Ray env runners" if runners else f"{name}, in process"
    print(f"- {label}", flush=True)
    seconds = 60.0 * args.minutes
    raw = job_config(name, runners, seconds, args.seed)
    config, settings, hyperparameters = parse_job_config(raw, name)
    trainer = Trainer(name, config, settings, hyperparameters=hyperparameters)
    env_s = time_env_steps(trainer) if not name.startswith("rllib_") else None
    update_s: list[float] = []
    parts: dict[str, list[float]] = {"sample_s": [], "learn_s": []}
    trained = 0.0
    next_eval = args.eval_every_s
    best, reached = 0.0, float("nan")
    try:
        while trained < seconds:
            tick = time.perf_counter()
            record = trainer.step()
            update_s.append(time.perf_counter() - tick)
            for key, values in parts.items():
                if key in record:
                    values.append(record[key])
            trained += update_s[-1]
            if trained >= next_eval or trained >= seconds:
                next_eval += args.eval_every_s
                win = trainer.evaluation(EVAL_EPISODES)["win_rate"]
                best = max(best, win)
                print(f"    {trained:6.0f} s  {trainer.env_steps:>9,} env steps  win {win:.1%}")
                if win >= args.target and np.isnan(reached):
                    reached = trained
    finally:
        trainer.algorithm.close()
    stats = summarize([1000 * s for s in update_s])
    throughput = trainer.env_steps / max(trained, 1e-9)
    if env_s is not None:  # the in-house loop: the simulator's steps, then everything else
        parts["sample_s"] = [sum(env_s) / max(len(update_s), 1)]
        parts["learn_s"] = [max(float(np.mean(update_s)) - parts["sample_s"][0], 0.0)]
    return {
        "row": label,
        "updates": trainer.training_step,
        "env_steps": trainer.env_steps,
        "env_steps/s": round(throughput),
        "update_p50_s": round(stats["p50"] / 1000, 2),
        "update_p99_s": round(stats["p99"] / 1000, 2),
        "x_floor": round(throughput / args.floor, 3),
        "env_or_sample_s": round(float(np.mean(parts["sample_s"] or [np.nan])), 2),
        "rest_or_learn_s": round(float(np.mean(parts["learn_s"] or [np.nan])), 2),
        "best_win": f"{best:.1%}",
        f"s_to_{args.target:.0%}": "-" if np.isnan(reached) else round(reached),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training time per row")
    parser.add_argument("--target", type=float, default=0.7, help="held-out win rate to reach")
    parser.add_argument("--eval-every-s", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"of {', '.join(ROWS)}")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.floor = floor_env_steps_per_s()
    print(f"floor: the simulator alone, 64 fights, random actions: {args.floor:,.0f} env steps/s")
    start = ray_start()
    print("Ray start-up:", start, flush=True)
    rows = [run_row(spec, args) for spec in args.rows.split(",")]
    print()
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
