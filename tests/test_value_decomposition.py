"""QMIX and VDN: the episode replay, the double-Q target, masks, truncation, exact resume, and
learning a small cooperative game. Tiny networks; QMIXMixer's monotonicity and masking are
tested in test_ctde_networks.py."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from models.algorithms.qmix import (
    QMIX,
    QMIXHyperparameters,
    ValueDecompositionHyperparameters,
    next_agent_values,
    td_target,
)
from models.algorithms.vdn import VDN, VDNMixer
from models.buffers.episode_replay import EpisodeReplay
from models.config import Config, ConfigError, config_from_dict
from models.envs.base import EpisodeStats, Observation, StepResult, evaluate_policy
from models.envs.base import team_return_summary as summarize_returns
from models.envs.pack_combat.simulator import PackCombatEnv
from models.training.settings import TrainingSettings

Batch = dict[str, torch.Tensor]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


# --- a tiny cooperative game -------------------------------------------------------------------


class CueGame:
    """E copies of a two-agent coordination game. Each step both agents see a cue c in {0, 1, 2};
    the team earns 1 only when both pick action c. Action 3 is never allowed. Environment e's k-th
    episode lasts 1 + (e + k) % 3 steps; a 3-step episode with even k ends by the time limit
    (truncated), every other episode terminates."""

    score_name = "team_return"
    N, S, G, A = 2, 8, 4, 4

    def __init__(self, n_envs: int, seed: int = 0) -> None:
        self.n_envs = n_envs
        self.rng = np.random.default_rng(seed)
        self.t = np.zeros(n_envs, np.int64)
        self.k = np.zeros(n_envs, np.int64)
        self.ret = np.zeros(n_envs)
        self.cue = np.zeros(n_envs, np.int64)

    def summarize(self, episodes: EpisodeStats) -> dict[str, float]:
        return summarize_returns(episodes)

    def lengths(self) -> NDArray[np.int64]:
        return 1 + (np.arange(self.n_envs) + self.k) % 3

    def reset(self) -> Observation:
        self.t[:], self.k[:], self.ret[:] = 0, 0, 0.0
        self.cue = self.rng.integers(0, 3, self.n_envs)
        return self._observe()

    def step(self, actions: NDArray[np.integer]) -> tuple[Observation, StepResult]:
        actions = np.asarray(actions)
        if (actions == 3).any():
            raise ValueError("action 3 is not allowed")
        E = self.n_envs
        reward = (actions == self.cue[:, None]).all(axis=1).astype(np.float32)
        self.t += 1
        self.ret += reward
        lengths = self.lengths()
        done = self.t >= lengths
        truncated = done & (lengths == 3) & (self.k % 2 == 0)
        ended = np.flatnonzero(done)
        episodes = _episode_stats(ended, self.t[ended], self.ret[ended])
        self.t[ended], self.ret[ended] = 0, 0.0
        self.k[ended] += 1
        self.cue = self.rng.integers(0, 3, E)
        result = StepResult(
            team_reward=reward,
            agent_rewards=np.repeat(reward[:, None], self.N, axis=1),
            individual_rewards=np.zeros((E, self.N), np.float32),
            done=done,
            truncated=truncated,
            terminal_global_state=np.zeros((E, self.N, self.S), np.float32),
            terminal_pack_mask=np.ones((E, self.N), bool),
            episodes=episodes,
        )
        return self._observe(), result

    def _observe(self) -> Observation:
        E, N, S = self.n_envs, self.N, self.S
        local = np.zeros((E, N, S), np.float32)
        local[np.arange(E), :, self.cue] = 1.0  # the cue, one-hot
        local[:, 0, 3] = local[:, 1, 4] = 1.0  # which agent I am
        action_mask = np.ones((E, N, self.A), bool)
        action_mask[..., 3] = False
        return Observation(
            local_obs=local,
            signals=np.zeros((E, N, self.G), np.float32),
            global_state=local.copy(),
            agent_mask=np.ones((E, N), bool),
            pack_mask=np.ones((E, N), bool),
            action_mask=action_mask,
        )


def _episode_stats(
    env_index: NDArray[np.int64], length: NDArray[np.int64], team_return: NDArray[np.float64]
) -> EpisodeStats:
    return EpisodeStats(
        env_index=env_index,
        length=length.copy(),
        team_return=team_return.copy(),
    )


def cue_config() -> Config:
    return config_from_dict(
        {
            "ctde": {
                "state_dim": CueGame.S,
                "signal_dim": CueGame.G,
                "action_dim": CueGame.A,
                "actor": {"hidden_dim": 16},
                "critic": {"hidden_dims": [16, 16], "n_heads": 1},
                "inference": {"use_signals": False},
            }
        }
    )


def cue_algorithm(cls: type[QMIX] = QMIX, n_envs: int = 4, seed: int = 0, **hp: Any) -> QMIX:
    values: dict[str, Any] = {
        "buffer_episodes": 200,
        "batch_episodes": 16,
        "max_episode_length": 3,
        # QMIX needs this much exploration here: annealed over 2000 steps, 3 of 6 seeds kept one
        # cue miscoordinated (greedy return 1.4 of 2.0) after 120 iterations; over 3000 none did.
        "epsilon_anneal_steps": 3000,
        "target_update_interval": 20,
        "train_steps_per_iteration": 4,
        "lr": 0.005,
        **hp,
    }
    if cls is QMIX:
        values = {"mixing_embed_dim": 8, "hypernet_embed_dim": 16, **values}
    settings = TrainingSettings(n_envs=n_envs, rollout_length=8, seed=seed)
    return cls(cue_config(), settings, CueGame(n_envs, seed), values, n_agents=CueGame.N)


def all_episodes(algorithm: QMIX) -> Batch:
    """Every stored episode as one batch (sampling all of them, in a random order)."""
    replay = algorithm.replay
    sampled = replay.sample(len(replay), np.random.default_rng(0))
    return {name: torch.as_tensor(array) for name, array in sampled.items()}


# --- the replay --------------------------------------------------------------------------------


def small_replay(capacity: int = 2) -> EpisodeReplay:
    return EpisodeReplay(capacity, 4, {"obs": ((2,), np.float32), "a": ((), np.int64)})


def episode(length: int, value: float) -> dict[str, NDArray[Any]]:
    return {
        "obs": np.full((length, 2), value, np.float32),
        "a": np.arange(1, length + 1, dtype=np.int64),
    }


def test_replay_pads_masks_and_overwrites_the_oldest() -> None:
    replay = small_replay()
    replay.add(episode(4, 1.0))
    replay.add(episode(3, 2.0))
    assert len(replay) == 2
    assert replay.filled.tolist() == [[True] * 4, [True, True, True, False]]
    assert replay.storage["obs"][1, 3].tolist() == [0.0, 0.0]

    replay.add(episode(1, 3.0))  # full: replaces the oldest (the 4-step episode)
    assert len(replay) == 2
    assert replay.filled[0].tolist() == [True, False, False, False]
    assert replay.storage["obs"][0].tolist() == [[3.0, 3.0], [0, 0], [0, 0], [0, 0]]
    assert replay.storage["a"][0].tolist() == [1, 0, 0, 0]  # no stale tail of the old episode

    batch = replay.sample(2, np.random.default_rng(0))
    assert batch["obs"].shape == (2, 3, 2)  # trimmed to the longest sampled episode
    assert sorted(batch["filled"].sum(axis=1).tolist()) == [1, 3]
    assert sorted(batch["obs"][:, 0, 0].tolist()) == [2.0, 3.0]

    with pytest.raises(ValueError, match="cannot sample 3"):
        replay.sample(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="outside"):
        replay.add(episode(5, 1.0))
    with pytest.raises(ValueError, match="fields"):
        replay.add({"obs": np.zeros((2, 2), np.float32)})


def test_replay_samples_distinct_episodes_uniformly() -> None:
    replay = EpisodeReplay(8, 2, {"id": ((), np.int64)})
    for i in range(5):
        replay.add({"id": np.array([i])})
    rng = np.random.default_rng(0)
    counts = np.zeros(5)
    for _ in range(2000):
        ids = replay.sample(2, rng)["id"][:, 0]
        assert ids[0] != ids[1]  # without replacement
        counts[ids] += 1
    assert np.all(np.abs(counts / 4000 - 0.2) < 0.03)


def test_replay_state_round_trip_resumes_exactly() -> None:
    replay = small_replay(capacity=3)
    for length, value in ((2, 1.0), (4, 2.0), (3, 3.0), (1, 4.0)):
        replay.add(episode(length, value))
    state = pickle.loads(pickle.dumps(replay.state_dict()))
    replay.add(episode(2, 9.0))  # the saved state is a copy, not a view
    assert state["storage"]["obs"][1, 0, 0] == 2.0

    restored = small_replay(capacity=3)
    restored.load_state_dict(state)
    original = small_replay(capacity=3)
    original.load_state_dict(state)
    for buffer in (original, restored):
        buffer.add(episode(3, 5.0))
    for name in ("obs", "a"):
        assert np.array_equal(restored.storage[name], original.storage[name])
    a = original.sample(2, np.random.default_rng(7))
    b = restored.sample(2, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a)

    with pytest.raises(ValueError, match="capacity"):
        small_replay(capacity=2).load_state_dict(state)


# --- the target ----------------------------------------------------------------------------------


def test_double_q_target_by_hand() -> None:
    # Two agents at the next step; action 2 is invalid for agent 0.
    q_online = torch.tensor([[1.0, 5.0, 9.0], [4.0, 0.0, 3.0]])
    q_target = torch.tensor([[10.0, 2.0, 7.0], [1.0, 8.0, 6.0]])
    valid = torch.tensor([[True, True, False], [True, True, True]])
    # Online argmax over valid actions: agent 0 -> 1 (9 is invalid), agent 1 -> 0.
    double = next_agent_values(q_online, q_target, valid, double_q=True)
    assert double.tolist() == [2.0, 1.0]  # the target network's values of those actions
    single = next_agent_values(q_online, q_target, valid, double_q=False)
    assert single.tolist() == [10.0, 8.0]  # the target network's own valid max

    reward = torch.tensor([1.0, 1.0])
    terminated = torch.tensor([False, True])
    next_q_tot = torch.tensor([3.0, 100.0])
    y = td_target(reward, terminated, next_q_tot, gamma=0.5)
    assert y.tolist() == [1.0 + 0.5 * 3.0, 1.0]  # no bootstrap after a terminal step


def test_td_terms_equal_a_step_by_step_computation() -> None:
    algorithm = cue_algorithm(train_steps_per_iteration=1, target_update_interval=1000)
    for _ in range(3):
        algorithm.iterate()  # trained a little: online and target networks now differ
    batch = all_episodes(algorithm)
    q_tot, target, mask = algorithm.td_terms(batch)
    gamma = algorithm.config.ctde.gamma
    net, target_net, mixer, target_mixer = (
        algorithm.q_net,
        algorithm.target_q_net,
        algorithm.mixer,
        algorithm.target_mixer,
    )
    B = batch["actions"].shape[0]
    checked = 0
    with torch.no_grad():
        for b in range(B):
            length = int(batch["filled"][b].sum())
            h = h_target = None
            qs, target_qs = [], []
            for t in range(length):  # the GRU from a zero memory, one step at a time
                q, h = net.logits(batch["local_obs"][b, t], None, h)
                qt, h_target = target_net.logits(batch["local_obs"][b, t], None, h_target)
                qs.append(q)
                target_qs.append(qt)
            for t in range(length):
                taken = qs[t].gather(1, batch["actions"][b, t][:, None]).squeeze(1)
                state, agents = batch["state"][b, t][None], batch["agent_mask"][b, t][None]
                expected_q_tot = mixer(taken[None], state, agents)[0, 0]
                torch.testing.assert_close(q_tot[b, t], expected_q_tot)
                if batch["terminated"][b, t]:
                    expected = batch["reward"][b, t]
                elif batch["truncated"][b, t]:
                    assert not mask[b, t]
                    continue
                else:
                    valid = batch["action_mask"][b, t + 1]
                    best = qs[t + 1].masked_fill(~valid, -np.inf).argmax(1)  # online picks
                    scored = target_qs[t + 1].gather(1, best[:, None]).squeeze(1)  # target scores
                    next_state = batch["state"][b, t + 1][None]
                    next_agents = batch["agent_mask"][b, t + 1][None]
                    bootstrap = target_mixer(scored[None], next_state, next_agents)[0, 0]
                    expected = batch["reward"][b, t] + gamma * bootstrap
                assert mask[b, t]
                torch.testing.assert_close(target[b, t], expected)
                checked += 1
            assert not mask[b, length:].any()
    assert checked > B  # bootstrapped steps were among them


# --- masks and truncation ----------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [1.0, 0.0])
def test_invalid_actions_are_never_chosen(epsilon: float) -> None:
    algorithm = cue_algorithm(
        epsilon_start=epsilon, epsilon_finish=epsilon, train_steps_per_iteration=0
    )
    head = algorithm.q_net.decision[-1]
    assert isinstance(head, torch.nn.Linear)
    with torch.no_grad():  # make the invalid action 3 by far the best Q-value
        head.bias[3] = 100.0
    for _ in range(3):
        algorithm.iterate()  # CueGame raises on action 3
    batch = all_episodes(algorithm)
    actions, filled = batch["actions"], batch["filled"]
    assert not (actions[filled] == 3).any()
    if epsilon == 0.0:
        # Greedy acting chose the valid argmax of the Q-values the training unroll computes (the
        # memory was reset at each episode's start exactly as the replay replays it).
        with torch.no_grad():
            q = algorithm._unroll(algorithm.q_net, batch)
        greedy = q.masked_fill(~batch["action_mask"], -np.inf).argmax(-1)
        assert torch.equal(greedy[filled], actions[filled])
    else:
        assert set(actions[filled].flatten().tolist()) == {0, 1, 2}


def test_truncated_last_steps_are_left_out_of_the_loss() -> None:
    algorithm = cue_algorithm(train_steps_per_iteration=0)
    for _ in range(4):
        algorithm.iterate()
    batch = all_episodes(algorithm)
    truncated, terminated = batch["truncated"], batch["terminated"]
    assert truncated.any()
    assert terminated.any()

    def loss(b: Batch) -> float:
        with torch.no_grad():
            q_tot, target, mask = algorithm.td_terms(b)
        return float(((q_tot - target)[mask] ** 2).mean())

    _, _, mask = algorithm.td_terms(batch)
    assert torch.equal(mask, batch["filled"] & ~truncated)
    base = loss(batch)
    moved = dict(batch, reward=torch.where(truncated, batch["reward"] + 50.0, batch["reward"]))
    assert loss(moved) == base  # a truncated step's reward never reaches the loss
    moved = dict(batch, reward=torch.where(terminated, batch["reward"] + 50.0, batch["reward"]))
    assert loss(moved) > base + 1.0  # a terminal step's does


# --- VDN ---------------------------------------------------------------------------------------


def test_vdn_q_tot_is_the_sum_of_acting_agents_q() -> None:
    qs = torch.randn(6, 5)
    mask = torch.rand(6, 5) < 0.6
    torch.testing.assert_close(VDNMixer()(qs, None, mask)[:, 0], (qs * mask).sum(1))

    algorithm = cue_algorithm(VDN, train_steps_per_iteration=0)
    algorithm.iterate()
    batch = all_episodes(algorithm)
    assert "state" not in batch  # VDN reads no state, so the replay keeps none
    q_tot, _, _ = algorithm.td_terms(batch)
    with torch.no_grad():
        q = algorithm._unroll(algorithm.q_net, batch)
    taken = q.gather(-1, batch["actions"][..., None]).squeeze(-1)
    torch.testing.assert_close(q_tot, (taken * batch["agent_mask"]).sum(-1))
    assert algorithm.dims()["mixer"] == "vdn"


# --- hyper-parameters and schedule -------------------------------------------------------------


def test_hyperparameters_from_a_mapping_are_strict() -> None:
    algorithm = cue_algorithm(double_q=False)
    assert isinstance(algorithm.hp, QMIXHyperparameters)
    assert algorithm.hp.double_q is False
    with pytest.raises(ConfigError, match=r"algorithm\.mixing_embed_dim"):
        cue_algorithm(VDN, mixing_embed_dim=8)  # VDN has no mixer to size
    with pytest.raises(ValueError, match="batch_episodes"):
        ValueDecompositionHyperparameters(buffer_episodes=4, batch_episodes=8)


def test_epsilon_anneals_linearly_by_env_steps() -> None:
    algorithm = cue_algorithm(
        epsilon_start=1.0, epsilon_finish=0.1, epsilon_anneal_steps=64, train_steps_per_iteration=0
    )
    assert algorithm.epsilon == 1.0
    stats = algorithm.iterate().stats  # 8 steps x 4 envs = 32 env steps: half way
    assert stats["epsilon"] == pytest.approx(0.55)
    algorithm.iterate()
    algorithm.iterate()
    assert algorithm.epsilon == pytest.approx(0.1)


# --- the pack-combat simulator and exact resume --------------------------------------------------


def pack_algorithm(cls: type[QMIX], seed: int = 0) -> QMIX:
    config = config_from_dict(
        {"ctde": {"actor": {"hidden_dim": 16}, "critic": {"hidden_dims": [16, 16], "n_heads": 1}}}
    )
    settings = TrainingSettings(n_envs=2, rollout_length=8, max_steps=6, seed=seed)
    hp: dict[str, Any] = {
        "buffer_episodes": 16,
        "batch_episodes": 2,
        "train_steps_per_iteration": 2,
        "target_update_interval": 3,
        "epsilon_anneal_steps": 100,
    }
    if cls is QMIX:
        hp |= {"mixing_embed_dim": 8, "hypernet_embed_dim": 16}
    env = PackCombatEnv(2, seed=seed, max_steps=6)
    return cls(config, settings, env, hp)


def test_qmix_iterates_on_the_pack_combat_simulator() -> None:
    algorithm = pack_algorithm(QMIX)
    first = algorithm.iterate()
    assert first.env_steps == 16
    assert first.episodes  # 8 steps of fights limited to 6 end some
    assert 0 < first.samples <= 16 * 5
    second = algorithm.iterate()
    assert np.isfinite(second.stats["td_loss"])
    assert second.stats["buffer_episodes"] >= 2
    assert algorithm.replay.storage["state"].shape[2:] == (5 * 64,)  # N * 64 flattened
    scores = evaluate_policy(algorithm.policy(), PackCombatEnv(3, seed=99, max_steps=6))
    assert scores["episodes"] == 3.0


def _same_stats(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


@pytest.mark.parametrize("cls", [QMIX, VDN])
def test_resume_after_two_iterations_repeats_the_third(cls: type[QMIX]) -> None:
    algorithm = pack_algorithm(cls)
    algorithm.iterate()
    algorithm.iterate()
    state = pickle.loads(pickle.dumps(algorithm.state_dict()))
    env = copy.deepcopy(algorithm.env)  # the loop pickles the env on its own

    expected = algorithm.iterate()
    assert np.isfinite(expected.stats["td_loss"])

    resumed = pack_algorithm(cls, seed=1)  # another seed: everything must come from the state
    resumed.load_state_dict(state)
    resumed.env = env
    got = resumed.iterate()
    assert _same_stats(got.stats, expected.stats)
    assert got.samples == expected.samples
    assert [e.team_return.tolist() for e in got.episodes] == [
        e.team_return.tolist() for e in expected.episodes
    ]
    for name, value in algorithm.q_net.state_dict().items():
        assert torch.equal(resumed.q_net.state_dict()[name], value)


def test_weights_only_resume_keeps_the_run_fresh() -> None:
    trained = pack_algorithm(QMIX)
    trained.iterate()
    trained.iterate()
    fresh = pack_algorithm(QMIX, seed=1)
    fresh.load_state_dict(trained.state_dict(), weights_only=True)
    for name, value in trained.q_net.state_dict().items():
        assert torch.equal(fresh.q_net.state_dict()[name], value)
    assert len(fresh.replay) == 0
    assert fresh.observation() is None
    other = pack_algorithm(QMIX)
    with pytest.raises(ValueError, match="hypernet_embed_dim"):
        other.load_state_dict({**trained.state_dict(), "dims": {"hypernet_embed_dim": 99}})


# --- learning ----------------------------------------------------------------------------------


def greedy_team_return(algorithm: QMIX) -> tuple[float, float]:
    """(mean greedy team return, the optimum) over one episode in each of 30 fresh games."""
    env = CueGame(30, seed=123)
    scores = evaluate_policy(algorithm.policy(), env)
    optimum = float(np.mean(1 + np.arange(30) % 3))  # every step rewarded
    return scores["team_return"], optimum


@pytest.mark.parametrize("cls", [QMIX, VDN])
def test_learns_the_cue_game(cls: type[QMIX]) -> None:
    algorithm = cue_algorithm(cls)
    untrained, optimum = greedy_team_return(algorithm)
    assert untrained < 0.5 * optimum
    for _ in range(100):  # 3200 env steps, 336 gradient steps
        algorithm.iterate()
    trained, _ = greedy_team_return(algorithm)
    assert trained >= 0.95 * optimum, (untrained, trained, optimum)
