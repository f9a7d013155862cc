"""Win rates on each named scenario of the contract simulator: the traditional AI and, given a
checkpoint, a trained actor, on the same held-out fights, in one table.

    python -m models.training.scenarios --scenario all
    python -m models.training.scenarios --scenario ambush --episodes 400 --seed 1000000 \\
        --model-type pack_coordination --checkpoint runs/job/best.pt

The scenarios are models/envs/contract_combat/scenarios.py's (docs/contract_combat.md,
"Scenarios"). The traditional AI is the game server's own mob AI (traditional.py) over the ten
primitives. A checkpoint of a training run (the Trainer's best.pt or latest.pt; any algorithm whose
served actor is a DecentralizedActor) plays as it is served: a pack actor's argmax in the "pack"
action space, a combat policy's actions drawn by the state in the "combat" space
(config/model_types.py). Only the checkpoint's metadata and networks are read: nothing of it is
unpickled. Every policy of a scenario plays the fights the same seed draws, so a row compares
policies on the same fights.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from config.model_types import ACTION_DIMS, COMBAT, GATEWAY_TYPES, PACK_COORDINATION
from models.algorithms.base import ActorPolicy
from models.config import default_config
from models.envs.base import evaluate_policy
from models.envs.contract_combat.enrichment import K as ENRICH_K
from models.envs.contract_combat.env import STATE_DIM, ContractCombatEnv
from models.envs.contract_combat.scenarios import SCENARIOS
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.networks.ctde import DecentralizedActor
from models.training.checkpoints import CheckpointError, read_file
from models.training.settings import TrainingSettings

#: Where a run's checkpoint keeps the actor it serves: MAPPO, IPPO and MADDPG call it "actor",
#: QMIX and VDN "q_net" (their greedy actions are its argmax).
ACTOR_NETWORKS = ("actor", "q_net")
TRADITIONAL = "traditional AI"


def load_actor(path: Path, model_type: str) -> tuple[DecentralizedActor, bool]:
    """The served actor of a run's checkpoint and whether it reads the enriched state (64 + the
    database's pack features, docs/enrichment.md). Refused, with both values named, when it does
    not answer `model_type`'s actions."""
    payload = read_file(path)
    dims, networks = payload["metadata"]["dims"], payload["networks"]
    key = next((k for k in ACTOR_NETWORKS if k in networks), None)
    if key is None:
        raise CheckpointError(
            f"{path}: no served actor among its networks ({', '.join(networks)}); "
            f"looked for {', '.join(ACTOR_NETWORKS)}"
        )
    want = ACTION_DIMS[model_type]
    if dims["action_dim"] != want:
        raise CheckpointError(
            f"{path}: the actor answers {dims['action_dim']} actions but a {model_type} model "
            f"answers {want} (--model-type)"
        )
    if dims["state_dim"] not in (STATE_DIM, STATE_DIM + ENRICH_K):
        raise CheckpointError(
            f"{path}: state_dim {dims['state_dim']} is neither the contract's {STATE_DIM} nor "
            f"{STATE_DIM + ENRICH_K} with enrichment"
        )
    actor = DecentralizedActor(
        dims["state_dim"],
        dims["signal_dim"],
        dims["action_dim"],
        dims["actor_hidden_dim"],
        dims["use_gru"],
        dropout=0.0,
    )
    actor.load_state_dict(networks[key])
    return actor.eval(), dims["state_dim"] != STATE_DIM


def scenario_row(
    name: str,
    episodes: int,
    seed: int,
    max_steps: int,
    model_type: str = PACK_COORDINATION,
    actor: tuple[DecentralizedActor, bool] | None = None,
) -> dict[str, object]:
    """One scenario's win rates over `episodes` held-out fights (one per environment, first
    seeded by `seed`): the traditional AI's and, given (actor, enriched), the actor's."""

    def fights(space: str, enrich: bool = False) -> ContractCombatEnv:
        return ContractCombatEnv(
            episodes,
            seed=seed,
            max_steps=max_steps,
            action_space=space,
            enrich=enrich,
            scenario=name,
        )

    env = fights("primitives")
    row: dict[str, object] = {
        "scenario": name,
        "episodes": episodes,
        TRADITIONAL: evaluate_policy(TraditionalPolicy(env, seed=seed), env)["win_rate"],
    }
    if actor is not None:
        network, enriched = actor
        gateway = model_type in GATEWAY_TYPES
        # A gateway request carries no signals; a pack actor reads them as its default config
        # serves it (ctde.inference.use_signals).
        signals = not gateway and default_config().ctde.inference.use_signals
        policy = ActorPolicy(network, signals, deterministic=True, drawn=gateway)
        space = "combat" if model_type == COMBAT else "pack"
        row[model_type] = evaluate_policy(policy, fights(space, enriched))["win_rate"]
    row["what"] = SCENARIOS[name].description
    return row


def table(rows: Sequence[dict[str, object]]) -> str:
    """Fixed-width columns, win rates as percentages."""
    columns = list(rows[0])
    cells = [columns] + [
        [f"{v:.1%}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m models.training.scenarios",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--episodes", type=int, default=400, help="fights per scenario")
    parser.add_argument(
        "--seed",
        type=int,
        default=TrainingSettings().eval_seed,
        help="seed of the held-out fights (training seeds stay far below the default)",
    )
    parser.add_argument("--max-steps", type=int, default=100, help="time limit of a fight")
    parser.add_argument("--model-type", choices=list(ACTION_DIMS), default=PACK_COORDINATION)
    parser.add_argument("--checkpoint", type=Path, help="a training run's best.pt or latest.pt")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    try:
        actor = load_actor(args.checkpoint, args.model_type) if args.checkpoint else None
    except CheckpointError as exc:
        parser.error(str(exc))
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    rows = [
        scenario_row(n, args.episodes, args.seed, args.max_steps, args.model_type, actor)
        for n in names
    ]
    print(f"win rate on held-out fights (seed {args.seed}, {args.max_steps} steps at most)")
    print(table(rows))


if __name__ == "__main__":
    main()
