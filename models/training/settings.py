"""How a training run is driven (the YAML's `ctde` section says what is trained).

A training job's `config` jsonb carries {"ctde": {...}, "advanced": {...}, "training": {...}}: the
first two override config/ctde_config.yaml, the last one these settings. Unknown keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.model_types import ACTION_DIMS, COMBAT


@dataclass(frozen=True)
class TrainingSettings:
    """Rollout sizes, budgets, evaluation and checkpoint cadence of one training run."""

    n_envs: int = 64
    """Simulated fights stepped in lockstep per rollout."""
    rollout_length: int = 64
    """Steps per rollout (T); one PPO update per rollout."""
    total_updates: int = 300
    """PPO updates at most (the time budget or early stopping may end the run sooner)."""
    time_budget_s: float = 0.0
    """Stop after this many seconds of training (0: no limit)."""
    minibatches: int = 4
    """Minibatches per PPO epoch (epochs: ctde.n_epochs)."""
    chunk_length: int = 16
    """Steps per recurrent chunk: the GRU is re-run over chunks from their stored start state."""
    max_steps: int = 80
    """Time limit of one simulated fight."""
    environment: str = "contract"
    """What the run trains on: "contract", the contract simulator (models/envs/contract_combat:
    every monster sees the game server's 64 floats, docs/contract_combat.md), or "pack", the older
    pack simulator with its private 64-float layout (docs/simulator.md), kept for reference."""
    model_type: str = "pack_coordination"
    """What is trained, and the ml_models.model_type it is registered as: "pack_coordination",
    the pack actor (7 pack actions; on the contract simulator each runs through its recipe over
    the ten primitives, docs/pack_recipes.md), or "combat", the legacy gateway's policy over the
    game server's 10 executable actions and DEFER to its traditional AI (config/model_types.py;
    contract simulator only; no recurrent state, no signals: a gateway request carries
    neither)."""
    scenario: str = "standard"
    """Pack-simulator scenario (models/envs/pack_combat/rules.py SCENARIOS); environment "pack"."""
    eval_every: int = 10
    """Updates between deterministic evaluations on held-out seeds."""
    eval_episodes: int = 200
    """Episodes per evaluation."""
    eval_seed: int = 1_000_000
    """First seed of the evaluation fights; training seeds stay far below it."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations without a better win rate (0: never)."""
    checkpoint_every: int = 10
    """Updates between checkpoints (the latest is kept; the best by evaluation too)."""
    seed: int = 0
    """Seeds torch, numpy and the simulator: the same seed gives the same run."""
    register_archetypes: list[str] = field(default_factory=list)
    """Archetypes to register the trained actor for besides the job's own (the actor is shared by
    all pack members, whatever their archetype; each archetype serves from its own registry row)."""
    torch_threads: int = 1
    """Intra-op threads for torch. The networks are small: one thread avoids the spin-wait
    contention that made updates 10x slower on a busy 2-core machine (measured)."""

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(
                f"training.environment must be one of {', '.join(ENVIRONMENTS)}, "
                f"got {self.environment!r}"
            )
        if self.model_type not in MODEL_TYPES:
            raise ValueError(
                f"training.model_type must be one of {', '.join(MODEL_TYPES)}, "
                f"got {self.model_type!r}"
            )
        if self.model_type == COMBAT and self.environment != "contract":
            raise ValueError(
                "training.model_type 'combat' trains on the contract simulator: "
                "training.environment must be 'contract'"
            )


ENVIRONMENTS = ("contract", "pack")
MODEL_TYPES = tuple(ACTION_DIMS)
