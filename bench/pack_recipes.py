"""Pack actions through their recipes in the contract simulator: win rates over held-out fights,
and the single primitive `primitive_for` gives each pack action most often (the proposed
`ml.legacy_action_map` rows). docs/pack_recipes.md reports the figures.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.pack_recipes [--fights 300] [--seed 1000000]

Policies: (a) the traditional AI over the ten primitives; (b) scripted pack policies executed
through the recipes (everyone FOCUS_FIRE; the leader's plan: the support HELP_ALLYs, the rest
FOCUS_FIRE); (c) random pack actions through the recipes; then the leader's plan sent as one
primitive per monster: `primitive_for` (situation-aware), the proposed static rows, and the
current `ml.legacy_action_map` rows (sql/tables/legacy_action_map.sql).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation, evaluate_policy
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.execute import N_ACTIONS
from models.envs.contract_combat.recipes import (
    REASONS,
    focus_fire_policy,
    plan,
    primitive_for,
    scripted_pack_policy,
)
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.policies import random_policy
from plpython.state_contract import ACTIONS

I64 = NDArray[np.int64]
Policy = Callable[[Observation], I64]
#: sql/tables/legacy_action_map.sql as it stands.
CURRENT_MAP = np.array([8, 2, 4, 1, 3, 2, 2], np.int64)


def as_primitives(env: ContractCombatEnv, pack_policy: Policy, table: I64 | None) -> Policy:
    """A pack policy answered with one primitive per monster: `primitive_for` of the situation
    (table None), or a static pack action -> primitive table."""

    def policy(obs: Observation) -> I64:
        pack = pack_policy(obs)
        if table is not None:
            out: I64 = np.where(obs.agent_mask, table[pack], 0).astype(np.int64)
            return out
        s = plan(pack, env.monsters, env.players, obs.agent_mask, env.world.size).situation
        single, _ = primitive_for(pack, s)
        return np.where(obs.agent_mask, single, 0).astype(np.int64)

    return policy


def proposed_rows(seed: int, envs: int = 64, steps: int = 300) -> list[tuple[int, float, int]]:
    """Per pack action: the primitive `primitive_for` gives most often over random pack play (every
    living monster, every step, each of the seven asked), its share, and its usual reason."""
    env = ContractCombatEnv(envs, seed=seed, action_space="pack")
    obs = env.reset()
    rng = np.random.default_rng(seed)
    counts = np.zeros((R.N_ACTIONS, N_ACTIONS), np.int64)
    why = np.zeros((R.N_ACTIONS, N_ACTIONS, len(REASONS)), np.int64)
    for _ in range(steps):
        acting = obs.agent_mask
        for a in range(R.N_ACTIONS):
            pack = np.full(acting.shape, a, np.int64)
            s = plan(pack, env.monsters, env.players, acting, env.world.size).situation
            got, reason = primitive_for(pack, s)
            np.add.at(counts[a], got[acting], 1)
            np.add.at(why[a], (got[acting], reason[acting]), 1)
        obs, _ = env.step(random_policy(obs, rng))
    rows = []
    for a in range(R.N_ACTIONS):
        best = int(counts[a].argmax())
        rows.append((best, counts[a, best] / counts[a].sum(), int(why[a, best].argmax())))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fights", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1_000_000)
    args = ap.parse_args()
    n, seed = args.fights, args.seed
    rows = proposed_rows(seed=0)
    proposed = np.array([r[0] for r in rows], np.int64)
    names = [x.name for x in ACTIONS]
    print("proposed legacy_action_map (mode of primitive_for over random pack play):")
    for a, (best, share, reason) in enumerate(rows):
        print(f"  {R.ACTION_NAMES[a]:13s} -> {names[best]:13s} {share:6.1%}  {REASONS[reason]}")

    rng = np.random.default_rng(0)
    cases: list[tuple[str, str, Callable[[ContractCombatEnv], Policy]]] = [
        ("traditional AI (primitives)", "primitives", lambda e: TraditionalPolicy(e, seed=0)),
        ("random primitives", "primitives", lambda e: lambda o: random_policy(o, rng)),
        ("FOCUS_FIRE for all, recipes", "pack", lambda e: focus_fire_policy),
        ("leader's plan, recipes", "pack", lambda e: scripted_pack_policy),
        ("random pack actions, recipes", "pack", lambda e: lambda o: random_policy(o, rng)),
        (
            "leader's plan, primitive_for",
            "primitives",
            lambda e: as_primitives(e, scripted_pack_policy, None),
        ),
        (
            "leader's plan, proposed map",
            "primitives",
            lambda e: as_primitives(e, scripted_pack_policy, proposed),
        ),
        (
            "leader's plan, current map",
            "primitives",
            lambda e: as_primitives(e, scripted_pack_policy, CURRENT_MAP),
        ),
    ]
    print(f"\n{n} fights, seed {seed}")
    print("| policy | win | defeat | timeout | players killed | pack survival | failed | length |")
    print("|---|---|---|---|---|---|---|---|")
    for name, space, make in cases:
        env = ContractCombatEnv(n, seed=seed, action_space=space)
        r = evaluate_policy(make(env), env)
        print(
            f"| {name} | {r['win_rate']:.1%} | {r['defeat_rate']:.1%} | {r['timeout_rate']:.1%} "
            f"| {r['kills']:.2f} | {r['pack_survival']:.3f} | {r['failed_action_rate']:.1%} "
            f"| {r['mean_length']:.1f} |"
        )


if __name__ == "__main__":
    main()
