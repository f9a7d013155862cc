"""The generic multi-agent contract (models/envs/base.py), the PettingZoo adapter on mpe2's
simple_spread_v3, and the CTDE trainer running MAPPO on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

pytest.importorskip("mpe2")  # the `train` extra; the simulator's tests do not need it

import gymnasium
from mpe2 import simple_spread_v3

from models.config import Config, config_from_dict
from models.envs.base import (
    MultiAgentEnv,
    Observation,
    SupportsPackSize,
    evaluate_team_return,
)
from models.envs.pack_combat.simulator import PackCombatEnv
from models.envs.pettingzoo import PettingZooVecEnv
from models.training.ctde_trainer import CTDETrainer
from models.training.settings import TrainingSettings

MAX_CYCLES = 25


def make_spread() -> Any:
    return simple_spread_v3.parallel_env(
        N=3, local_ratio=0.5, max_cycles=MAX_CYCLES, continuous_actions=False
    )


def random_actions(obs: Observation, rng: np.random.Generator) -> np.ndarray:
    """Uniform over each slot's allowed actions."""
    scores = rng.random(obs.action_mask.shape) * obs.action_mask
    return np.asarray(scores.argmax(-1), np.int64)


def spread_config() -> Config:
    return config_from_dict(
        {
            "ctde": {
                "state_dim": 18,
                "action_dim": 5,
                "actor": {"hidden_dim": 32, "dropout": 0.0},
                "critic": {"hidden_dims": [32, 32], "dropout": 0.0},
                "inference": {"use_signals": False},
                "n_epochs": 2,
            },
            "advanced": {"curriculum_learning": False},
        }
    )


def spread_trainer(seed: int = 0) -> CTDETrainer:
    settings = TrainingSettings(
        n_envs=4,
        rollout_length=MAX_CYCLES,
        chunk_length=MAX_CYCLES,
        minibatches=2,
        total_updates=2,
        eval_every=0,
        eval_episodes=4,
        seed=seed,
    )
    return CTDETrainer(
        spread_config(),
        n_agents=3,
        settings=settings,
        env_factory=lambda s: PettingZooVecEnv(make_spread, s.n_envs, s.seed),
    )


# --- the protocol ---------------------------------------------------------------------------------


def test_both_environments_satisfy_the_protocol() -> None:
    pack = PackCombatEnv(2, seed=0)
    spread = PettingZooVecEnv(make_spread, 2, seed=0)
    assert isinstance(pack, MultiAgentEnv)
    assert isinstance(spread, MultiAgentEnv)
    # Only the simulator has the pack-size curriculum; the trainer asks before using it.
    assert isinstance(pack, SupportsPackSize)
    assert not isinstance(spread, SupportsPackSize)


# --- shapes and masks -----------------------------------------------------------------------------


def test_shapes_dtypes_and_masks() -> None:
    env = PettingZooVecEnv(make_spread, 4, seed=0)
    assert (env.n_agents, env.state_dim, env.action_dim) == (3, 18, 5)
    obs = env.reset()
    assert obs.local_obs.shape == (4, 3, 18)
    assert obs.local_obs.dtype == np.float32
    assert obs.global_state.shape == (4, 3, 18)
    assert obs.signals.shape == (4, 3, 32)
    assert not obs.signals.any()
    assert obs.agent_mask.all()
    assert obs.pack_mask.all()
    assert obs.action_mask.shape == (4, 3, 5)
    assert obs.action_mask.all()  # Discrete(5), nothing masked
    # "agents" mode: the critic's slot i holds agent i's own observation.
    np.testing.assert_array_equal(obs.global_state, obs.local_obs)


def test_observations_are_the_envs_own() -> None:
    env = PettingZooVecEnv(make_spread, 2, seed=7)
    obs = env.reset()
    for e in range(2):
        direct = make_spread()
        raw, _ = direct.reset(seed=7 + e)
        for i, name in enumerate(direct.possible_agents):
            np.testing.assert_allclose(obs.local_obs[e, i], raw[name])


def test_joint_global_state_is_env_state_in_every_slot() -> None:
    env = PettingZooVecEnv(make_spread, 2, seed=3, global_state="joint")
    assert env.state_dim == 54  # 3 agents x 18: the actor's input is zero-padded to it
    obs = env.reset()
    direct = make_spread()
    direct.reset(seed=3)
    for slot in range(3):
        np.testing.assert_allclose(obs.global_state[0, slot], direct.state())
    assert not obs.local_obs[:, :, 18:].any()


def test_padded_slots_are_masked() -> None:
    env = PettingZooVecEnv(make_spread, 2, seed=0, n_agents=5)
    obs = env.reset()
    assert obs.local_obs.shape == (2, 5, 18)
    assert obs.pack_mask[:, :3].all()
    assert not obs.pack_mask[:, 3:].any()
    assert obs.agent_mask[:, :3].all()
    assert not obs.agent_mask[:, 3:].any()
    assert not obs.local_obs[:, 3:].any()
    # A slot that does not act allows only action 0 (whatever is sent there is ignored).
    assert obs.action_mask[:, 3:, 0].all()
    assert not obs.action_mask[:, 3:, 1:].any()
    actions = np.zeros((2, 5), np.int64)
    actions[:, 3:] = 4
    env.step(actions)


def test_bad_actions_are_refused() -> None:
    env = PettingZooVecEnv(make_spread, 2, seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, 3), np.int64))
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.zeros((2, 3)))  # type: ignore[arg-type]  # what the check is for
    with pytest.raises(ValueError, match="not allowed"):
        env.step(np.full((2, 3), 5))


def test_continuous_actions_are_refused() -> None:
    def continuous() -> Any:
        return simple_spread_v3.parallel_env(N=3, max_cycles=5, continuous_actions=True)

    with pytest.raises(ValueError, match="not Discrete"):
        PettingZooVecEnv(continuous, 1)


# --- episodes, auto-reset, determinism ------------------------------------------------------------


def test_time_limit_truncates_and_auto_resets() -> None:
    E = 3
    env = PettingZooVecEnv(make_spread, E, seed=11)
    direct = [make_spread() for _ in range(E)]
    for e, d in enumerate(direct):
        d.reset(seed=11 + e)
    obs = env.reset()
    rng = np.random.default_rng(0)
    team_return = np.zeros(E)
    for t in range(MAX_CYCLES):
        actions = random_actions(obs, rng)
        obs, result = env.step(actions)
        team_return += result.team_reward
        np.testing.assert_allclose(result.team_reward, result.agent_rewards.sum(1))
        last = t == MAX_CYCLES - 1
        assert result.done.all() == last
        assert result.done.any() == last
        assert result.truncated.all() == last
        for e, d in enumerate(direct):
            raw, rew, _, _, _ = d.step({a: int(actions[e, i]) for i, a in enumerate(d.agents)})
            np.testing.assert_allclose(result.agent_rewards[e], list(rew.values()), rtol=1e-6)
            if last:  # the terminal state is the episode's last observation, not the reset's
                for i, name in enumerate(d.possible_agents):
                    np.testing.assert_allclose(result.terminal_global_state[e, i], raw[name])
    ep = result.episodes
    np.testing.assert_array_equal(ep.env_index, np.arange(E))
    np.testing.assert_array_equal(ep.length, MAX_CYCLES)
    np.testing.assert_array_equal(ep.extra["truncated"], 1.0)
    np.testing.assert_allclose(ep.team_return, team_return, rtol=1e-5)
    np.testing.assert_array_equal(ep.extra["agents_left"], 1.0)
    # The returned observation is a new episode: every agent starts at rest (velocity 0).
    assert not obs.local_obs[:, :, :2].any()
    assert obs.agent_mask.all()
    obs, result = env.step(random_actions(obs, rng))
    assert not result.done.any()


def trace(seed: int, steps: int = 60) -> list[np.ndarray]:
    env = PettingZooVecEnv(make_spread, 3, seed=seed)
    obs = env.reset()
    rng = np.random.default_rng(1)
    out = []
    for _ in range(steps):
        obs, result = env.step(random_actions(obs, rng))
        out += [obs.local_obs, result.agent_rewards, result.done, result.terminal_global_state]
    return out


def test_same_seed_same_trajectory() -> None:
    a, b, c = trace(5), trace(5), trace(6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_evaluate_team_return_counts_one_episode_per_env() -> None:
    env = PettingZooVecEnv(make_spread, 5, seed=0)
    rng = np.random.default_rng(0)
    summary = evaluate_team_return(lambda obs: random_actions(obs, rng), env)
    assert summary.episodes == 5
    assert summary.mean_length == MAX_CYCLES
    assert summary.team_return < 0  # distances to landmarks only cost


# --- a generic env with masks and terminations ----------------------------------------------------


class TwoAgentCountdown:
    """A tiny parallel env: agent "b" terminates after 2 steps, "a" after 3; "a" may only take
    even actions (its observation carries an action mask); each step pays every agent 1."""

    metadata: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.possible_agents = ["a", "b"]
        self.agents: list[str] = []
        self.t = 0

    def observation_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        box = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        if agent == "a":
            return gymnasium.spaces.Dict(
                {"observation": box, "action_mask": gymnasium.spaces.MultiBinary(4)}
            )
        return box

    def action_space(self, agent: str) -> gymnasium.spaces.Space[Any]:
        return gymnasium.spaces.Discrete(4 if agent == "a" else 3)

    def _obs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.agents:
            vector = np.array([self.t, 1.0 if name == "a" else -1.0], np.float32)
            if name == "a":
                out[name] = {"observation": vector, "action_mask": np.array([1, 0, 1, 0], np.int8)}
            else:
                out[name] = vector
        return out

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.agents, self.t = list(self.possible_agents), 0
        return self._obs(), {}

    def step(self, actions: dict[str, int]) -> tuple[Any, Any, Any, Any, Any]:
        assert set(actions) == set(self.agents)
        self.t += 1
        rewards = {name: 1.0 for name in self.agents}
        ends = {"a": self.t >= 3, "b": self.t >= 2}
        terminations = {name: ends[name] for name in self.agents}
        truncations = {name: False for name in self.agents}
        obs = self._obs()
        self.agents = [name for name in self.agents if not ends[name]]
        return obs, rewards, terminations, truncations, {}


def test_termination_masks_and_action_masks() -> None:
    env = PettingZooVecEnv(TwoAgentCountdown, 1, seed=0)
    assert (env.state_dim, env.action_dim) == (2, 4)
    obs = env.reset()
    np.testing.assert_array_equal(obs.action_mask[0, 0], [True, False, True, False])
    np.testing.assert_array_equal(obs.action_mask[0, 1], [True, True, True, False])
    with pytest.raises(ValueError, match="not allowed"):
        env.step(np.array([[1, 0]]))
    obs, result = env.step(np.array([[2, 2]]))
    obs, result = env.step(np.array([[0, 1]]))
    assert not result.done.any()
    # "b" has terminated: its slot no longer acts, its observation is zeros.
    np.testing.assert_array_equal(obs.agent_mask, [[True, False]])
    assert not obs.local_obs[0, 1].any()
    np.testing.assert_array_equal(obs.action_mask[0, 1], [True, False, False, False])
    obs, result = env.step(np.array([[0, 3]]))  # the slot that does not act is ignored
    assert result.done.all()
    assert not result.truncated.any()
    ep = result.episodes
    assert ep.extra["truncated"].tolist() == [0.0]  # no time limit: no agent was left
    assert ep.length.tolist() == [3]
    assert ep.team_return.tolist() == [5.0]  # 2 + 2 + 1
    assert ep.extra["agents_left"].tolist() == [0.0]
    assert obs.agent_mask.all()  # auto-reset


# --- MAPPO on simple_spread -----------------------------------------------------------------------


def test_mappo_smoke_run_on_simple_spread() -> None:
    trainer = spread_trainer()
    history = trainer.train()
    assert trainer.training_step == 2
    assert trainer.env_steps == 2 * MAX_CYCLES * 4
    for record in history.updates:
        assert record["episodes"] == 4.0  # one 25-step episode per env and rollout
        assert np.isfinite(record["team_return"])
        assert record["team_return"] < 0
        assert np.isfinite(record["actor_loss"])
        assert np.isfinite(record["critic_loss"])
        # No wins outside the simulator: the seed's win_rate column stays empty (NaN).
        assert np.isnan(record["win_rate"])
    summary = trainer.evaluate_return(episodes=3)
    assert summary.episodes == 3
    assert np.isfinite(summary.team_return)
    with pytest.raises(ValueError, match="evaluate_return"):
        trainer.evaluate()


def test_mappo_on_simple_spread_is_deterministic() -> None:
    # One after the other: a trainer seeds torch's global generator when it is built.
    a = spread_trainer(seed=3)
    a.train()
    b = spread_trainer(seed=3)
    b.train()
    assert a.history.updates[-1]["actor_loss"] == b.history.updates[-1]["actor_loss"]
    for p, q in zip(a.actor.parameters(), b.actor.parameters(), strict=True):
        assert bool((p == q).all())


def test_evaluation_keeps_the_best_by_team_return(tmp_path: Path) -> None:
    trainer = spread_trainer()
    trainer.settings = dataclasses.replace(trainer.settings, eval_every=1)
    trainer.train(checkpoint_dir=tmp_path)
    evals = trainer.history.evaluations
    assert [e["update"] for e in evals] == [1.0, 2.0]
    assert trainer.best_win_rate == max(e["eval_team_return"] for e in evals)
    assert (tmp_path / "best.pt").exists()
    # PettingZoo envs do not survive pickling: the checkpoint holds no env and a resume starts a
    # new one, with the networks and counters restored.
    resumed = spread_trainer()
    resumed.load_checkpoint(tmp_path / "latest.pt")
    assert resumed.algorithm.observation() is None  # fresh episodes at the next rollout
    assert resumed.training_step == 2
    resumed.settings = dataclasses.replace(resumed.settings, total_updates=3)
    resumed.train()
    assert resumed.training_step == 3
