"""Shared, cached artefacts of the CTDE tests (an export takes seconds: make it once per run)."""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from models.buffers.pack_episodes import PackEpisode
from models.export.onnx import ExportedActor, export_actor
from models.networks.ctde import DecentralizedActor

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
