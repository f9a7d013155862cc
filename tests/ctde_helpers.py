"""Shared, cached artefacts of the CTDE tests (an export takes seconds: make it once per run)."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

import numpy as np
import torch

from models.buffers.pack_episodes import PackEpisode
from models.config import config_from_dict, default_config
from models.envs.contract_combat.env import ContractCombatEnv
from models.export.onnx import ExportedActor, export_actor
from models.networks.ctde import DecentralizedActor
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

SMALL_HIDDEN = 32


@cache
def small_actor() -> DecentralizedActor:
    """A seeded actor with the seed's input and output sizes and a narrow hidden width."""
    torch.manual_seed(0)
    return DecentralizedActor(hidden_dim=SMALL_HIDDEN).eval()


@cache
def small_export() -> ExportedActor:
    return export_actor(small_actor(), agreement_samples=2048)


def make_episode(
    pack_id: int = 1001,
    n_agents: int = 3,
    steps: int = 6,
    seed: int = 0,
    with_signals: bool = True,
    outcome: str = "victory",
) -> PackEpisode:
    rng = np.random.default_rng(seed)
    return PackEpisode(
        pack_id=pack_id,
        monster_ids=list(range(100, 100 + n_agents)),
        global_states=rng.standard_normal((steps, n_agents, 64), dtype=np.float32),
        local_obs=rng.standard_normal((steps, n_agents, 64), dtype=np.float32),
        actions=rng.integers(0, 7, (steps, n_agents)),
        team_rewards=rng.standard_normal(steps, dtype=np.float32),
        individual_rewards=rng.standard_normal((steps, n_agents), dtype=np.float32),
        signals=rng.random((steps, n_agents, 32), dtype=np.float32) if with_signals else None,
        outcome=outcome,
        coordination_score=float(rng.random()),
    )


def tiny_contract_trainer(ctde: dict[str, Any], **env_options: Any) -> Trainer:
    """MAPPO for 2 updates of 4 short contract fights, networks 16 wide: a training run in
    seconds, real in every step. `ctde` overrides the YAML's section (action_dim, state_dim, ...);
    `env_options` go to ContractCombatEnv."""
    raw = asdict(default_config())
    raw["ctde"].update(
        {
            "actor": {"hidden_dim": 16, "dropout": 0.0},
            "critic": {"hidden_dims": [16, 16], "dropout": 0.0, "n_heads": 2},
            "n_epochs": 1,
            **ctde,
        }
    )
    raw["advanced"]["curriculum_learning"] = False
    settings = TrainingSettings(
        n_envs=4, rollout_length=16, max_steps=12, total_updates=2, minibatches=2,
        chunk_length=8, eval_every=0, eval_episodes=4,
    )  # fmt: skip
    return Trainer(
        "mappo",
        config_from_dict(raw),
        settings,
        env_factory=lambda s: ContractCombatEnv(
            s.n_envs, seed=s.seed, max_steps=s.max_steps, **env_options
        ),
    )
