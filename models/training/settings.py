"""How a training run is driven (the YAML's `ctde` section says what is trained).

A training job's `config` jsonb carries {"ctde": {...}, "advanced": {...}, "training": {...}}: the
first two override config/ctde_config.yaml, the last one these settings. Unknown keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.model_types import ACTION_DIMS, COMBAT
from models.envs.contract_combat.scenarios import SCENARIOS as CONTRACT_SCENARIOS
from models.envs.pack_combat.rules import SCENARIOS as PACK_SCENARIOS


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
    """The named scenario the run's fights (training and evaluation) are drawn from. On
    "contract": models/envs/contract_combat/scenarios.py SCENARIOS ("standard", "lone_adventurer",
    "outnumbered", "healer_party", "ambush"; docs/contract_combat.md, "Scenarios"), a scenario's
    pack sizes clipped into the curriculum's. On "pack": models/envs/pack_combat/rules.py
    SCENARIOS. Another name is refused with the environment's known ones."""
    eval_every: int = 10
    """Updates between deterministic evaluations on held-out seeds."""
    eval_episodes: int = 200
    """Episodes per evaluation."""
    eval_seed: int = 1_000_000
    """First seed of the evaluation fights; training seeds stay far below it."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations without a better win rate (0: never)."""
    success_threshold: float = 0.0
    """An evaluation whose score (the env's: the win rate on the simulators) reaches this bar is a
    success (at or below it for a score where lower is better, a cost); consecutive successes are
    the `streak` of training_progress.csv (0: no bar, the streak stays 0)."""
    success_streak: int = 0
    """Stop after this many consecutive successful evaluations (0: never; needs
    success_threshold and eval_every)."""
    checkpoint_every: int = 10
    """Updates between checkpoints: latest.pt and checkpoints/checkpoint_<env steps>/ (the best
    evaluation is kept too: best.pt and checkpoints/best_reward_<env steps>/)."""
    keep_checkpoints: int = 3
    """checkpoints/checkpoint_<env steps>/ directories kept, the newest (0: every one)."""
    seed: int = 0
    """Seeds torch, numpy and the simulator: the same seed gives the same run."""
    register_archetypes: list[str] = field(default_factory=list)
    """Archetypes to register the trained actor for besides the job's own (the actor is shared by
    all pack members, whatever their archetype; each archetype serves from its own registry row)."""
    torch_threads: int = 1
    """Intra-op threads for torch. The networks are small: one thread avoids the spin-wait
    contention that made updates 10x slower on a busy 2-core machine (measured)."""
    num_env_runners: int = 0
    """Where the fights are stepped. 0: in the training process. K > 0: on K Ray actors (env
    runners, one CPU each), each stepping its share of the n_envs fights; the in-house algorithms
    collect through them unchanged (models/rllib/remote_env.py), RLlib's algorithms use K RLlib
    env runners. Evaluation stays in the training process."""
    ray_address: str = ""
    """The Ray cluster of the env runners: "host:port" of a running head, "ray://host:port" (Ray
    client) or "auto"; "" uses the environment variable RAGNAROK_RAY_ADDRESS, else a local Ray on
    this machine (models/rllib/cluster.py). A cluster that cannot be reached fails the job at
    once, with the reason."""

    def __post_init__(self) -> None:
        if self.num_env_runners < 0:
            raise ValueError(f"training.num_env_runners must be >= 0, got {self.num_env_runners}")
        if self.success_streak < 0 or self.keep_checkpoints < 0:
            raise ValueError("training.success_streak and training.keep_checkpoints must be >= 0")
        if self.success_streak and not (self.success_threshold and self.eval_every):
            raise ValueError(
                "training.success_streak counts evaluations that reach training.success_threshold: "
                "set success_threshold (non-zero) and eval_every (> 0) too"
            )
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
        known = SCENARIO_NAMES[self.environment]
        if self.scenario not in known:
            raise ValueError(
                f"training.scenario must be one of {', '.join(known)} on the "
                f"{self.environment!r} environment, got {self.scenario!r}"
            )
        if self.model_type == COMBAT and self.environment != "contract":
            raise ValueError(
                "training.model_type 'combat' trains on the contract simulator: "
                "training.environment must be 'contract'"
            )


ENVIRONMENTS = ("contract", "pack")
#: The scenarios each environment draws its fights from, by name.
SCENARIO_NAMES = {"contract": tuple(CONTRACT_SCENARIOS), "pack": tuple(PACK_SCENARIOS)}
MODEL_TYPES = tuple(ACTION_DIMS)
