"""Checkpoints: metadata round trip, and the dimension mismatch named with both values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from models.config import ActorConfig, CriticConfig, CTDEConfig
from models.networks.ctde import CentralizedCritic, DecentralizedActor
from models.training.checkpoints import (
    CheckpointDimensionError,
    CheckpointError,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)

SMALL = CTDEConfig(
    critic=CriticConfig(hidden_dims=[32, 32, 16], n_heads=4), actor=ActorConfig(hidden_dim=32)
)


def networks(config: CTDEConfig = SMALL) -> tuple[DecentralizedActor, CentralizedCritic]:
    actor = DecentralizedActor(
        state_dim=config.state_dim,
        signal_dim=config.signal_dim,
        action_dim=config.action_dim,
        hidden_dim=config.actor.hidden_dim,
    )
    critic = CentralizedCritic(
        state_dim=config.state_dim,
        n_agents=config.max_pack_size,
        hidden_dims=config.critic.hidden_dims,
        n_heads=config.critic.n_heads,
    )
    return actor, critic


def test_round_trip_restores_weights_and_metadata(tmp_path: Path) -> None:
    actor, critic = networks()
    optimizer = torch.optim.Adam(actor.parameters())
    path = tmp_path / "ckpt" / "ctde_step_1000.pt"
    save_checkpoint(
        path,
        actor,
        critic,
        archetype="aggressive",
        version="1.0",
        step=1000,
        optimizer_states={"actor": optimizer.state_dict()},
        extra={"seed": 7},
    )
    loaded = load_checkpoint(path, SMALL)
    meta = loaded.metadata
    assert (meta.network_type, meta.archetype, meta.version, meta.step) == (
        "ctde",
        "aggressive",
        "1.0",
        1000,
    )
    assert (meta.state_dim, meta.hidden_dim, meta.critic_hidden_dims) == (64, 32, [32, 32, 16])
    assert meta.extra == {"seed": 7}
    assert "actor" in loaded.optimizer_states
    for name, tensor in actor.state_dict().items():
        assert torch.equal(loaded.actor.state_dict()[name], tensor)
    for name, tensor in critic.state_dict().items():
        assert torch.equal(loaded.critic.state_dict()[name], tensor)
    assert read_metadata(path) == meta


def test_dimension_mismatch_names_both_values(tmp_path: Path) -> None:
    actor, critic = networks()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, actor, critic, archetype="tank", version="2", step=1)
    config = dataclasses.replace(SMALL, state_dim=48, actor=ActorConfig(hidden_dim=64))
    with pytest.raises(CheckpointDimensionError) as info:
        load_checkpoint(path, config)
    message = str(info.value)
    assert "state_dim is 64 in the checkpoint but ctde.state_dim is 48 in the config" in message
    assert "hidden_dim is 32 in the checkpoint but ctde.actor.hidden_dim is 64" in message


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt"):
        load_checkpoint(path, SMALL)
    other = tmp_path / "other.pt"
    torch.save({"metadata": {"network_type": "dqn"}}, other)
    with pytest.raises(CheckpointError, match="network_type is 'dqn'"):
        read_metadata(other)
