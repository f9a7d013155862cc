"""The MAPPO trainer: exact resume, checkpoints and logs, early stopping, offline training from
episodes stored in the database, and the seed's API. Tiny sizes: the mechanics, not the learning
(bench/learning.py measures that)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
import torch

from models.algorithms.mappo import MAPPO
from models.buffers.pack_episodes import PackEpisodeBuffer
from models.config import config_from_dict
from models.networks.ctde import CentralizedCritic
from models.training.checkpoints import CheckpointDimensionError, CheckpointError
from models.training.ctde_trainer import CTDETrainer, episode_tensors
from models.training.loop import Trainer
from models.training.settings import TrainingSettings
from tests.ctde_helpers import make_episode

CONFIG: dict[str, Any] = {
    "ctde": {
        "actor": {"hidden_dim": 16, "dropout": 0.0},
        "critic": {"hidden_dims": [32, 32], "dropout": 0.0},
        "n_epochs": 2,
    },
    "advanced": {"curriculum_learning": True, "size_increase_interval": 2},
}


def tiny(**overrides: object) -> TrainingSettings:
    values: dict[str, object] = {
        "n_envs": 4,
        "rollout_length": 8,
        "total_updates": 4,
        "eval_every": 0,
        "eval_episodes": 8,
        "checkpoint_every": 1,
        "chunk_length": 4,
    }
    values.update(overrides)
    return TrainingSettings(**values)  # type: ignore[arg-type]


def trainer(**overrides: object) -> CTDETrainer:
    return CTDETrainer(config_from_dict(CONFIG), settings=tiny(**overrides))


def weights(t: CTDETrainer) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in t.actor.parameters()] + [
        p.detach().numpy().copy() for p in t.critic.parameters()
    ]


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    straight = trainer()
    straight.train()
    first = trainer(total_updates=2)
    first.train(checkpoint_dir=tmp_path)
    resumed = trainer()  # a new process would do this: same config, same directory
    resumed.train(checkpoint_dir=tmp_path)
    assert resumed.training_step == straight.training_step == 4
    assert resumed.env_steps == straight.env_steps
    for a, b in zip(weights(straight), weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoints_logs_and_best_model_are_written(tmp_path: Path) -> None:
    t = trainer(eval_every=2)
    history = t.train(checkpoint_dir=tmp_path)
    assert (tmp_path / "latest.pt").exists()
    assert (tmp_path / "best.pt").exists()
    lines = (tmp_path / "training_progress.csv").read_text().splitlines()
    assert len(lines) == 1 + 4
    assert "actor_loss" in lines[0]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(history.evaluations) == 2
    assert t.pack_size_now() == (2, 4)  # curriculum: one more member every 2 updates
    stats = t.get_training_statistics()
    assert stats["training_step"] == 4
    assert np.isfinite(stats["avg_actor_loss"])


def test_early_stopping_after_patience_without_improvement(tmp_path: Path) -> None:
    t = trainer(total_updates=50, eval_every=1, early_stopping_patience=2)
    t.best_win_rate = 2.0  # nothing can beat it: every evaluation is "no improvement"
    t.train(checkpoint_dir=tmp_path)
    assert t.training_step == 2


def test_checkpoint_with_other_dims_is_refused_naming_both(tmp_path: Path) -> None:
    trainer().save_checkpoint(str(tmp_path / "c.pt"))
    wider = CTDETrainer(
        config_from_dict({**CONFIG, "ctde": {**CONFIG["ctde"], "actor": {"hidden_dim": 24}}}),
        settings=tiny(),
    )
    with pytest.raises(ValueError, match="actor_hidden_dim: checkpoint has 16, config has 24"):
        wider.load_checkpoint(tmp_path / "c.pt")


def test_train_episode_and_train_on_buffer_from_stored_episodes(db_url: str) -> None:
    async def load() -> PackEpisodeBuffer:
        pool = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
        try:
            buffer = PackEpisodeBuffer(max_episodes=10, db_pool=pool)
            for k in range(3):
                episode = make_episode(pack_id=500 + k, n_agents=2 + k, steps=6, seed=k)
                await buffer.save_episode(episode)
            fresh = PackEpisodeBuffer(max_episodes=10, db_pool=pool)
            assert await fresh.load_from_database(limit=10) == 3
            return fresh
        finally:
            await pool.close()

    buffer = asyncio.run(load())
    t = trainer()
    before = weights(t)
    stats = t.train_episode(episode_tensors(buffer.get_batch(1)[0]))
    assert set(stats) >= {"actor_loss", "critic_loss", "entropy"}
    history = asyncio.run(t.train_on_buffer(buffer, n_iterations=2, episodes_per_iteration=2))
    assert len(history["actor_loss"]) == 4
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights(t), strict=True))
    assert torch.isfinite(next(t.actor.parameters())).all()


def test_a_run_checkpoint_with_other_dims_is_refused_naming_both(tmp_path: Path) -> None:
    first = trainer(total_updates=1)
    first.train(checkpoint_dir=tmp_path)
    wider = config_from_dict({**CONFIG, "ctde": {**CONFIG["ctde"], "actor": {"hidden_dim": 32}}})
    other = CTDETrainer(wider, settings=tiny())
    with pytest.raises(CheckpointDimensionError) as info:
        other.load_checkpoint(tmp_path / "latest.pt")
    assert "actor_hidden_dim: checkpoint has 16, config has 32" in str(info.value)
    torch.save({"metadata": {"network_type": "dqn"}}, tmp_path / "dqn.pt")
    with pytest.raises(CheckpointError, match="network_type is 'dqn'"):
        other.load_checkpoint(tmp_path / "dqn.pt")


def test_the_reported_critic_loss_is_the_mean_over_the_critics_minibatches() -> None:
    # With learning rates of 0 nothing moves, so the critic's loss averaged over 4 minibatches
    # is its loss over the whole rollout in one. The report was the last critic minibatch's loss
    # spread over every actor minibatch of the epoch (a quarter of it here).
    reported = []
    for minibatches in (1, 4):
        t = trainer(minibatches=minibatches)
        for optimizer in (t.actor_opt, t.critic_opt):
            for group in optimizer.param_groups:
                group["lr"] = 0.0
        rollout, next_values, _ = t.collect_rollout()
        reported.append(t.update(rollout, next_values).critic_loss)
    whole, split = reported
    assert whole > 0
    assert 0.7 < split / whole < 1.4


def test_the_critic_has_the_configured_heads_and_a_resume_checks_them(tmp_path: Path) -> None:
    # ctde.critic.n_heads was validated and never used (the critic had 4 heads whatever it said),
    # and a head count changes no weight's shape: a checkpoint loaded into any count silently.
    two_heads = {
        **CONFIG,
        "ctde": {**CONFIG["ctde"], "critic": {**CONFIG["ctde"]["critic"], "n_heads": 2}},
    }
    first = CTDETrainer(config_from_dict(two_heads), settings=tiny(total_updates=1))
    assert isinstance(first.critic, CentralizedCritic)
    assert first.critic.attention is not None
    assert first.critic.attention.num_heads == 2
    first.train(checkpoint_dir=tmp_path)
    four_heads = trainer()
    with pytest.raises(CheckpointDimensionError) as info:
        four_heads.load_checkpoint(tmp_path / "latest.pt")
    assert "critic_n_heads: checkpoint has 2, config has 4" in str(info.value)


def frozen(t: CTDETrainer) -> CTDETrainer:
    """Learning rates 0: an update moves nothing, so what it reports is the rollout's own."""
    for optimizer in (t.actor_opt, t.critic_opt):
        for group in optimizer.param_groups:
            group["lr"] = 0.0
    return t


def test_actor_dropout_acts_in_the_update_and_nowhere_else() -> None:
    # The actor stayed in eval mode for the whole run, so its dropout never acted (#17, defect 3).
    # With learning rates of 0 the policy cannot change: a ratio away from 1 (approx_kl > 0) can
    # only come from units dropped in the update's pass. Without dropout it is exactly 0. (The
    # decision head is scaled up so that a dropped unit moves the probabilities measurably: a
    # fresh actor is near uniform by design.)
    kl = {}
    for dropout in (0.0, 0.5):
        actor = {"hidden_dim": 16, "dropout": dropout}
        config = {**CONFIG, "ctde": {**CONFIG["ctde"], "actor": actor}}
        t = frozen(CTDETrainer(config_from_dict(config), settings=tiny()))
        head = t.actor.decision[-1]
        assert isinstance(head, torch.nn.Linear)
        with torch.no_grad():
            head.weight.mul_(300.0)
        rollout, next_values, _ = t.collect_rollout()
        kl[dropout] = t.update(rollout, next_values).approx_kl
        assert not t.actor.training  # rollouts, evaluation and export act with every unit
    assert kl[0.0] == 0.0
    assert kl[0.5] > 1e-3


def test_each_agent_is_valued_on_its_own_return() -> None:
    # The advantage of agent i sums its own reward (0.7 team + 0.3 its own); the critic learned
    # the team-mean return, one value for the whole pack, so the bootstrap estimated another
    # return than the one summed (#17, defect 4). Now V_i(s) regresses agent i's own return: give
    # slot 0 a reward of 1 every step and the others 0, and its value rises above theirs. (Team
    # advantages, the other consistent choice and the default, are tested below.)
    trained = Trainer(
        "mappo", config_from_dict(CONFIG), tiny(), hyperparameters={"advantages": "agent"}
    )
    t = trained.algorithm
    assert isinstance(t, MAPPO)
    for group in t.critic_opt.param_groups:
        group["lr"] = 3e-3
    for group in t.actor_opt.param_groups:
        group["lr"] = 0.0
    rollout, _, _ = t.collect_rollout()
    rollout.pack_mask[:] = True
    rollout.agent_mask[:] = True
    rollout.rewards[:] = 0.0
    rollout.rewards[:, :, 0] = 1.0
    rollout.dones[:] = False
    for _ in range(60):
        rollout.values = t.values(
            rollout.critic_input.reshape(-1, 5, 64), rollout.pack_mask.reshape(-1, 5)
        ).reshape(rollout.rewards.shape)
        t.update(rollout, np.zeros((4, 5)))
    values = t.values(rollout.critic_input[0], rollout.pack_mask[0])  # (E, N)
    assert values.shape == (4, 5)
    assert values[:, 0].mean() > values[:, 1:].mean() + 1.0


def test_team_advantages_credit_every_agent_the_team_mean_reward() -> None:
    # The other consistent choice for defect 4: one team value, every agent's advantage from the
    # team-mean reward. Slot 0's reward of 1 is then every slot's 1/5, and their values agree.
    t = Trainer("mappo", config_from_dict(CONFIG), tiny())  # team advantages: the default
    mappo = t.algorithm
    assert isinstance(mappo, MAPPO)
    rollout, _, _ = mappo.collect_rollout()
    rollout.pack_mask[:] = True
    rollout.agent_mask[:] = True
    rollout.rewards[:] = 0.0
    rollout.rewards[:, :, 0] = 1.0
    for _ in range(20):
        mappo.update(rollout, np.zeros((4, 5)))
    values = mappo.values(rollout.critic_input[0], rollout.pack_mask[0])
    np.testing.assert_allclose(values, values[:, :1].repeat(5, axis=1))
    assert values.mean() > 0.0
    with pytest.raises(ValueError, match=r"algorithm\.advantages must be 'agent' or 'team'"):
        Trainer("mappo", config_from_dict(CONFIG), tiny(), hyperparameters={"advantages": "own"})
