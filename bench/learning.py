"""What training buys on the game server's own terms, side by side in one run (issue: the state
contract): held-out fights of the contract simulator, where every monster sees the 64 floats the
game server sends and acts through its 10 actions.

    python -m bench.learning [--minutes 4] [--seed 0] [--episodes 500]

Rows, each trained for `--minutes` from scratch through the same path as an SQL training job
(models.training.job.parse_job_config with the demo's job configs, scripts/demo.py):

- random actions and the traditional AI (rAthena's own mob AI, the baseline players know);
- the pack actor (MAPPO, contract state + the pack's signals, 7 pack actions run through their
  recipes) and the same with the database's pack features (docs/enrichment.md);
- the combat policy (MAPPO, contract state alone, 10 primitives + DEFER), its actions drawn by
  the state as the worker serves them (and, for comparison, its argmax), playing every monster,
  and per archetype: only that archetype's monsters follow it (as when one archetype's combat
  model is deployed), the rest the traditional AI, against all-traditional on the same fights;
- for reference, the pack actor on the older private-layout simulator against that simulator's
  scripted baseline (a different world: its rows compare only with each other).

Actions as served (the pack actors' argmax, the combat policy's draw) on seeds never used in
training. Prints one table per part.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import table
from config.model_types import DEFER
from models.envs.base import Observation, evaluate_policy, first_episodes
from models.envs.contract_combat import enrichment
from models.envs.contract_combat.env import VICTORY, ContractCombatEnv
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.envs.pack_combat import policies as pack_policies
from models.envs.pack_combat import rules as R
from models.training.job import parse_job_config
from models.training.loop import EnvFactory, Trainer
from scripts.demo import combat_training_config, pack_training_config

EVAL_SEED = 5_000_000  # training seeds start at 0; held-out fights start far from them
ARCHETYPE_DIM = 8  # the contract's archetype dimension: id / 5
Policy = Callable[[Observation], np.ndarray]


def train(
    raw: dict[str, Any],
    seconds: float,
    seed: int,
    factory: EnvFactory | None,
    action_dim: int | None = None,
) -> Trainer:
    """One run as an SQL training job would make it, within `seconds` (`action_dim`: an actor
    of another width than the job's model type, for an env_factory's own action space)."""
    raw = copy.deepcopy(raw)
    raw["training"].update(time_budget_s=seconds, total_updates=1_000_000, eval_every=0, seed=seed)
    raw["training"].pop("register_archetypes", None)
    config, settings, hyperparameters = parse_job_config(raw)
    if action_dim is not None:
        config = dataclasses.replace(
            config, ctde=dataclasses.replace(config.ctde, action_dim=action_dim)
        )
    trainer = Trainer("mappo", config, settings, factory, hyperparameters)
    started = time.perf_counter()
    trainer.train()
    print(
        f"  trained {time.perf_counter() - started:.0f} s: {trainer.training_step} updates, "
        f"{trainer.env_steps:,} env steps",
        flush=True,
    )
    return trainer


def row(name: str, summary: dict[str, float], **extra: object) -> dict[str, object]:
    return {
        "policy": name,
        "win": summary["win_rate"],
        "defeat": summary["defeat_rate"],
        "timeout": summary["timeout_rate"],
        "kills": summary["kills"],
        "survival": summary["pack_survival"],
        "failed": summary["failed_action_rate"],
        **extra,
    }


def contract_env(episodes: int, space: str, **options: Any) -> ContractCombatEnv:
    return ContractCombatEnv(episodes, seed=EVAL_SEED, max_steps=100, action_space=space, **options)


def archetype_of(obs: Observation) -> np.ndarray:
    return np.rint(obs.local_obs[..., ARCHETYPE_DIM] * 5).astype(np.int64)


def only(archetype: int, policy: Policy) -> Policy:
    """`policy` for the monsters of one archetype, DEFER (the traditional AI) for the others."""
    return lambda obs: np.where(archetype_of(obs) == archetype, policy(obs), DEFER)


def contract_part(args: argparse.Namespace, seconds: float) -> None:
    n = args.episodes
    rows = []
    env = contract_env(n, "primitives")
    rng = np.random.default_rng(args.seed)
    rows.append(row("random actions", evaluate_policy(lambda o: _random(o, rng), env)))
    env = contract_env(n, "primitives")
    traditional = evaluate_policy(TraditionalPolicy(env, seed=args.seed), env)
    rows.append(row("traditional AI", traditional))

    print("pack actor: contract state + signals, 7 pack actions through their recipes", flush=True)
    pack = train(pack_training_config(seconds), seconds, args.seed, None)
    pack_eval = evaluate_policy(pack.algorithm.policy(deterministic=True), contract_env(n, "pack"))
    rows.append(row("pack actor (contract + signals)", pack_eval))
    rows.append(enrichment_row(args, seconds))

    print("combat policy: contract state alone, 10 primitives + DEFER", flush=True)
    combat = train(combat_training_config(seconds), seconds, args.seed, None)
    argmax = evaluate_policy(combat.algorithm.policy(True), contract_env(n, "combat"))
    rows.append(row("combat, argmax", argmax, deferred=argmax["deferred_rate"]))
    actor = combat.algorithm.policy(deterministic=True, drawn=True)  # as the worker serves it
    combat_eval = evaluate_policy(actor, contract_env(n, "combat"))
    rows.append(
        row("combat policy (10 + DEFER)", combat_eval, deferred=combat_eval["deferred_rate"])
    )
    if args.without_defer:
        rows.append(without_defer_row(args, seconds))
    columns = ["policy", "win", "defeat", "timeout", "kills", "survival", "failed", "deferred"]
    print("\nContract simulator, held-out fights:\n" + table(rows, columns))
    margin = 100 * (pack_eval["win_rate"] - traditional["win_rate"])
    print(f"pack actor over the traditional AI: {margin:+.1f} points")

    print("\n" + per_archetype_table(actor, n))


def per_archetype_table(actor: Policy, n: int) -> str:
    """Per archetype, on the held-out fights where it is present: its monsters follow the combat
    policy and the others the traditional AI, against every monster on the traditional AI. The
    fights are the same (same seed); a fight without the archetype plays out identically."""
    twin = contract_env(n, "combat")
    twin.reset()  # the fights first_episodes will play: the env's reset after construction
    present = twin.monsters.present

    def wins(policy: Policy) -> np.ndarray:
        episodes = first_episodes(policy, contract_env(n, "combat"))
        order = np.argsort(episodes.env_index)
        return np.asarray(episodes.extra["outcome"][order] == VICTORY)

    base = wins(lambda o: np.full(o.agent_mask.shape, DEFER))
    rows = []
    for a, name in enumerate(R.ARCHETYPES):
        fights = ((twin.monsters.arch == a) & present).any(axis=1)
        mixed = wins(only(a, actor))
        rows.append(
            {
                "archetype": name,
                "fights": int(fights.sum()),
                "traditional win": float(base[fights].mean()),
                "combat win": float(mixed[fights].mean()),
                "points": 100 * float(mixed[fights].mean() - base[fights].mean()),
            }
        )
    columns = ["archetype", "fights", "traditional win", "combat win", "points"]
    return (
        "Combat policy per archetype: that archetype's monsters follow it, the others the "
        "traditional AI, on the fights with that archetype:\n" + table(rows, columns)
    )


def without_defer_row(args: argparse.Namespace, seconds: float) -> dict[str, object]:
    """The combat policy over the 10 primitives alone: why the served one can DEFER."""
    print("combat policy without DEFER: the 10 primitives alone", flush=True)
    raw = combat_training_config(seconds)

    def factory(s: Any) -> ContractCombatEnv:
        return ContractCombatEnv(s.n_envs, seed=s.seed, max_steps=s.max_steps)

    trainer = train(raw, seconds, args.seed, factory, action_dim=10)
    env = contract_env(args.episodes, "primitives")
    return row("combat, 10 primitives alone", evaluate_policy(trainer.algorithm.policy(True), env))


def enrichment_row(args: argparse.Namespace, seconds: float) -> dict[str, object]:
    """The pack actor with the database's pack features (docs/enrichment.md; not shipped)."""
    print("pack actor + the database's pack features", flush=True)
    raw = pack_training_config(seconds)
    raw["ctde"]["state_dim"] = 64 + enrichment.K

    def factory(s: Any) -> ContractCombatEnv:
        return ContractCombatEnv(
            s.n_envs, seed=s.seed, max_steps=s.max_steps, action_space="pack", enrich=True
        )

    trainer = train(raw, seconds, args.seed, factory)
    env = contract_env(args.episodes, "pack", enrich=True)
    return row("pack actor + enrichment", evaluate_policy(trainer.algorithm.policy(True), env))


def _random(obs: Observation, rng: np.random.Generator) -> np.ndarray:
    return pack_policies.random_policy(obs, rng)


def reference_part(args: argparse.Namespace, seconds: float) -> None:
    """The older private-layout simulator (docs/simulator.md), for reference."""
    print("reference: the pack actor on the private-layout pack simulator", flush=True)
    raw = pack_training_config(seconds)
    raw["training"]["environment"] = "pack"
    raw["advanced"] = {"curriculum_learning": True, "size_increase_interval": 15}
    trainer = train(raw, seconds, args.seed, None)
    scripted = pack_policies.evaluate(
        pack_policies.nearest_attack_policy, n_episodes=args.episodes, seed=EVAL_SEED
    )
    trained = trainer.evaluate(episodes=args.episodes, seed=EVAL_SEED)
    rows = [
        {"policy": "scripted: attack nearest", "win": scripted.win_rate},
        {"policy": "pack actor (private layout)", "win": trained["win_rate"]},
    ]
    print("\nPack simulator (private layout), held-out fights:\n" + table(rows, ["policy", "win"]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=4.0, help="training per trained row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--without-defer",
        action="store_true",
        help="also train the combat policy over the 10 primitives alone (no DEFER)",
    )
    args = parser.parse_args()
    seconds = 60 * args.minutes
    contract_part(args, seconds)
    if not args.skip_reference:
        reference_part(args, seconds)


if __name__ == "__main__":
    main()
