"""The simulators' throughput, and (with --eval) the pack-combat standard scenario's balance.

    python -m bench.simulator [--env pack|contract] [--envs 256] [--steps 300] [--eval]
                              [--episodes 500]

Throughput: E environments in lockstep driven by their baseline (the pack simulator by the scripted
attack-nearest rule, the contract simulator by rAthena's traditional AI), one core. Printed beside a
trivial numpy "environment" of the same shapes (random walk of E x 5 agents, a (E, 5, 64) float32
observation, a reward sum), timed in the same run, so the ratio says how much the rules cost over
numpy's bare per-call overhead on whatever machine runs it.

Balance (--eval): win rates over `episodes` fights (one per environment, no auto-reset, seeds never
used in training) of random actions, the rAthena-style baseline (every monster attacks its nearest
adventurer) and the hand-written coordinated policy. The design targets: random < 20 %, baseline
25-45 %, coordinated >= 85 %.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.policies import (
    EvalSummary,
    coordinated_policy,
    evaluate,
    nearest_attack_policy,
    random_policy,
)
from models.envs.pack_combat.simulator import PackCombatEnv

EVAL_SEED = 5_000_000  # the same held-out seeds bench/learning.py evaluates on


def time_steps(step: Callable[[], int], steps: int) -> tuple[list[float], int]:
    """Per-call wall times (s) of `steps` calls after 10 warm-up calls, and the agents stepped."""
    for _ in range(10):
        step()
    times, agents = [], 0
    for _ in range(steps):
        started = time.perf_counter()
        agents += step()
        times.append(time.perf_counter() - started)
    return times, agents


def simulator_step(n_envs: int, seed: int, kind: str = "pack") -> Callable[[], int]:
    env: PackCombatEnv | ContractCombatEnv
    policy: Callable[[Observation], NDArray[np.int64]]
    if kind == "contract":
        env = ContractCombatEnv(n_envs, seed=seed)
        policy = TraditionalPolicy(env, seed)
    else:
        env = PackCombatEnv(n_envs, seed=seed)
        policy = nearest_attack_policy
    state = {"obs": env.reset()}

    def step() -> int:
        obs: Observation = state["obs"]
        state["obs"], _ = env.step(policy(obs))
        return int(obs.agent_mask.sum())

    return step


def trivial_step(n_envs: int, seed: int) -> Callable[[], int]:
    """The floor: the least an environment of these shapes can do per step in numpy."""
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 16, (n_envs, R.MAX_PACK, 2)).astype(np.float64)
    weights = rng.standard_normal((2, R.OBS_DIM))

    def step() -> int:
        nonlocal pos
        pos = np.clip(pos + rng.integers(-1, 2, pos.shape), 0, 15)
        obs: NDArray[np.float32] = (pos @ weights).astype(np.float32)
        reward = obs.sum((1, 2))
        return int(obs.shape[0] * obs.shape[1] * (reward.size > 0))

    return step


def throughput(n_envs: int, steps: int, seed: int, kind: str = "pack") -> None:
    sim_times, sim_agents = time_steps(simulator_step(n_envs, seed, kind), steps)
    base_times, _ = time_steps(trivial_step(n_envs, seed), steps)
    total = sum(sim_times)
    sim_median = statistics.median(sim_times)
    base_median = statistics.median(base_times)
    print(
        f"## Throughput ({kind} simulator): E = {n_envs} environments in lockstep, {steps} steps, "
        "one process"
    )
    print(f"env-steps/s        {n_envs * steps / total:12,.0f}")
    print(f"agent-steps/s      {sim_agents / total:12,.0f}  (acting monsters stepped)")
    print(f"median step        {1e3 * sim_median:12.2f} ms  (p90 {1e3 * p90(sim_times):.2f} ms)")
    print(f"trivial numpy step {1e3 * base_median:12.3f} ms  (same shapes, same run)")
    print(f"simulator / trivial{sim_median / base_median:12.1f}x")


def p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def balance(episodes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)

    def random_actions(obs: Observation) -> NDArray[np.int64]:
        return random_policy(obs, rng)

    print(f"\n## Balance: standard scenario, {episodes} episodes each, seeds from {seed}")
    rows: list[tuple[str, EvalSummary]] = [
        ("random actions", evaluate(random_actions, episodes, seed=seed)),
        ("baseline: attack nearest", evaluate(nearest_attack_policy, episodes, seed=seed)),
        ("coordinated (scripted)", evaluate(coordinated_policy, episodes, seed=seed)),
    ]
    print(
        f"{'policy':26s} {'win':>6s} {'defeat':>7s} {'timeout':>8s} {'coord kills':>12s} "
        f"{'survival':>9s} {'coordination':>13s} {'length':>7s}"
    )
    for name, s in rows:
        print(
            f"{name:26s} {s.win_rate:6.1%} {s.defeat_rate:7.1%} {s.timeout_rate:8.1%} "
            f"{s.coordinated_kills:12.2f} {s.pack_survival:9.2f} {s.coordination_score:13.2f} "
            f"{s.mean_length:7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", choices=("pack", "contract"), default="pack")
    parser.add_argument("--envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval", action="store_true", help="also print the balance table")
    parser.add_argument("--episodes", type=int, default=500)
    args = parser.parse_args()
    throughput(args.envs, args.steps, args.seed, args.env)
    if args.eval:
        balance(args.episodes, EVAL_SEED)


if __name__ == "__main__":
    main()
