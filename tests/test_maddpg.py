"""MADDPG (models/algorithms/maddpg.py): discrete actions on the pack simulator, the Gumbel
straight-through sample, target networks, exact resume, and continuous actions on a tiny task."""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from models.algorithms.maddpg import MADDPG, Hyperparameters, gumbel_softmax_st
from models.config import Config, config_from_dict
from models.envs.base import EpisodeStats, Observation, StepResult
from models.envs.pack_combat.simulator import PackCombatEnv
from models.networks.ctde import DecentralizedActor
from models.training.checkpoints import CheckpointDimensionError
from models.training.settings import TrainingSettings


def tiny_config(**ctde: Any) -> Config:
    return config_from_dict(
        {
            "ctde": {
                "actor": {"hidden_dim": 16, "learning_rate": 1e-3},
                "critic": {"learning_rate": 1e-3},
                **ctde,
            }
        }
    )


def tiny_hp(**overrides: Any) -> Hyperparameters:
    values: dict[str, Any] = {
        "buffer_size": 2_000,
        "batch_size": 32,
        "warmup_steps": 16,
        "train_steps_per_iteration": 3,
        "critic_hidden_dims": [32, 32],
    }
    return Hyperparameters(**{**values, **overrides})


def pack_maddpg(seed: int = 0, **hp: Any) -> MADDPG:
    settings = TrainingSettings(n_envs=4, rollout_length=8, seed=seed)
    env = PackCombatEnv(4, seed=seed, max_steps=10)
    return MADDPG(tiny_config(), settings, env, tiny_hp(**hp))


class RecordingEnv:
    """A pack simulator that checks every action against the mask it showed."""

    def __init__(self, env: PackCombatEnv) -> None:
        self.env, self.n_envs, self.score_name = env, env.n_envs, env.score_name
        self.last: Observation | None = None
        self.checked = 0

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        return self.env.summarize(episodes)

    def reset(self) -> Observation:
        self.last = self.env.reset()
        return self.last

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        assert self.last is not None
        E, N = actions.shape
        allowed = self.last.action_mask[np.arange(E)[:, None], np.arange(N)[None, :], actions]
        assert allowed.all(), "a masked action was sampled"
        self.checked += int(self.last.agent_mask.sum())
        self.last, result = self.env.step(actions)
        return self.last, result


def test_discrete_pack_two_iterations() -> None:
    settings = TrainingSettings(n_envs=4, rollout_length=8, seed=0)
    # Packs and adventurers of every size: actors die mid-fight, so masks vary.
    env = RecordingEnv(PackCombatEnv(4, seed=0, max_steps=10))
    alg = MADDPG(tiny_config(), settings, env, tiny_hp())
    assert isinstance(alg.actor, DecentralizedActor)
    assert not alg.actor.use_gru
    for _ in range(2):
        it = alg.iterate()
        assert it.env_steps == 8 * 4
        assert all(math.isfinite(v) for v in it.stats.values()), it.stats
        assert it.samples > 0
        assert all(len(ep.env_index) > 0 for ep in it.episodes)
    assert env.checked > 0
    assert alg.replay.size == 64
    assert alg.gradient_steps == 6
    # The served policy plays the pack (argmax over allowed actions).
    obs = env.reset()
    actions = alg.policy()(obs)
    assert actions.shape == (4, 5)


def test_gumbel_straight_through_is_one_hot_forward_with_gradients_backward() -> None:
    torch.manual_seed(0)
    mask = torch.tensor([[True, False, True, True], [False, True, True, False]])
    raw = torch.randn(2, 4, requires_grad=True)
    logits = raw.masked_fill(~mask, float("-inf"))
    counts = torch.zeros(2, 4)
    for _ in range(200):
        sample = gumbel_softmax_st(logits, temperature=1.0)
        assert torch.equal(sample.detach().sum(-1), torch.ones(2))
        assert ((sample == 0) | (sample == 1)).all()
        counts += sample.detach()
    assert counts[~mask].sum() == 0  # masked actions are never sampled
    assert (counts[mask] > 0).all()
    weights = torch.tensor([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    (gumbel_softmax_st(logits, temperature=0.5) * weights).sum().backward()  # type: ignore[no-untyped-call]
    assert raw.grad is not None
    assert torch.isfinite(raw.grad).all()
    assert (raw.grad[mask] != 0).all()
    assert (raw.grad[~mask] == 0).all()


def test_targets_move_by_tau() -> None:
    tau = 0.2
    alg = pack_maddpg(tau=tau, train_steps_per_iteration=1, warmup_steps=1)
    alg.iterate()  # one gradient step: the targets have moved once
    before_critic = [p.detach().clone() for p in alg.target_critic.parameters()]
    before_actor = [p.detach().clone() for p in alg.target_actor.parameters()]
    alg.iterate()
    assert alg.gradient_steps == 2
    pairs = [
        (before_critic, alg.target_critic, alg.critic),
        (before_actor, alg.target_actor, alg.online_actor),
    ]
    moved = 0
    for before, target, online in pairs:
        for old, new, p in zip(before, target.parameters(), online.parameters(), strict=True):
            expected = old + tau * (p.detach() - old)
            torch.testing.assert_close(new.detach(), expected)
            moved += int(not torch.equal(new.detach(), old))
    assert moved > 0


def test_exact_resume() -> None:
    alg = pack_maddpg(seed=3)
    for _ in range(2):
        alg.iterate()
    state = copy.deepcopy(alg.state_dict())
    env = pickle.loads(pickle.dumps(alg.env))  # the loop pickles the env on its own
    uninterrupted = alg.iterate()

    resumed = pack_maddpg(seed=99)  # another seed: everything must come from the state
    resumed.load_state_dict(state)
    resumed.env = env
    again = resumed.iterate()
    assert again.stats == uninterrupted.stats
    assert again.samples == uninterrupted.samples
    for a, b in zip(alg.critic.parameters(), resumed.critic.parameters(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(alg.actor.parameters(), resumed.actor.parameters(), strict=True):
        assert torch.equal(a, b)


def test_load_refuses_other_dims_and_weights_only_keeps_the_run() -> None:
    alg = pack_maddpg()
    alg.iterate()
    other = MADDPG(
        tiny_config(),
        TrainingSettings(n_envs=4, rollout_length=8),
        PackCombatEnv(4, max_steps=10),
        tiny_hp(critic_hidden_dims=[16, 16]),
    )
    with pytest.raises(CheckpointDimensionError, match="critic_hidden_dims"):
        other.load_state_dict(alg.state_dict())
    fresh = pack_maddpg()
    fresh.load_state_dict(alg.state_dict(), weights_only=True)
    assert fresh.replay.size == 0
    assert fresh.observation() is None
    for a, b in zip(alg.actor.parameters(), fresh.actor.parameters(), strict=True):
        assert torch.equal(a, b)


class TargetEnv:
    """2 agents, one continuous action each; agent i's reward is -|a_i - 0.7|. Every step is a
    whole (terminated) episode with the same observation: the optimum is a = 0.7 for both."""

    action_kind = "continuous"
    action_dim = 1
    score_name = "team_return"

    def __init__(self, n_envs: int) -> None:
        self.n_envs = n_envs

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        return {"team_return": float(episodes.team_return.mean())}

    def reset(self) -> Observation:
        E, N = self.n_envs, 2
        local = np.ones((E, N, 4), np.float32)
        return Observation(
            local_obs=local,
            signals=np.zeros((E, N, 32), np.float32),
            global_state=local.copy(),
            agent_mask=np.ones((E, N), bool),
            pack_mask=np.ones((E, N), bool),
            action_mask=np.ones((E, N, 1), bool),
        )

    def step(self, actions: NDArray[Any]) -> tuple[Observation, StepResult]:
        E, N = self.n_envs, 2
        assert actions.shape == (E, N, 1)
        assert ((actions >= 0) & (actions <= 1)).all()
        rewards = -np.abs(actions[:, :, 0] - 0.7).astype(np.float32)
        team = rewards.sum(axis=1)
        zi = np.zeros(E, np.int64)
        episodes = EpisodeStats(
            env_index=np.arange(E),
            length=zi + 1,
            team_return=team.astype(np.float64),
        )
        result = StepResult(
            team_reward=team,
            agent_rewards=rewards,
            individual_rewards=rewards,
            done=np.ones(E, bool),
            truncated=np.zeros(E, bool),
            terminal_global_state=np.zeros((E, N, 4), np.float32),
            terminal_pack_mask=np.ones((E, N), bool),
            episodes=episodes,
        )
        return self.reset(), result


def test_continuous_learns_a_tiny_task() -> None:
    settings = TrainingSettings(n_envs=16, rollout_length=4, seed=0)
    env = TargetEnv(16)
    alg = MADDPG(
        tiny_config(state_dim=4, actor={"hidden_dim": 16, "learning_rate": 3e-3}),
        settings,
        env,
        tiny_hp(
            batch_size=64, warmup_steps=128, train_steps_per_iteration=20, exploration_noise=0.2
        ),
        n_agents=2,
    )
    with pytest.raises(TypeError, match="does not serve"):
        _ = alg.actor
    probe = TargetEnv(8).reset()

    def error() -> float:
        return float(np.abs(alg.policy()(probe) - 0.7).mean())

    start = error()
    # The first iteration holds 64 transitions, the second reaches the warmup (128) and trains:
    # 29 x 20 = 580 gradient steps. The
    # critic's early slope often overshoots to 1 first (seeds 0-3 came back by step 400).
    for _ in range(30):
        it = alg.iterate()
    assert it.episodes
    assert math.isfinite(it.stats["critic_loss"])
    assert alg.gradient_steps == 580
    end = error()
    assert start > 0.15  # sigmoid(~0) = 0.5 at the start
    assert end < 0.05, (start, end)
