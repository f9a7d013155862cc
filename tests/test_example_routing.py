"""The transaction-routing example (examples/routing.py): its accounting by hand, determinism,
the MultiAgentEnv protocol, and the command end to end."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from examples import routing
from examples.routing import (
    BASE_LATENCY_MS,
    CHANNEL_RISK,
    FEE_USD,
    LATENCY_TARGET_MS,
    RISK_LIMIT,
    RoutingEnv,
    route,
)
from models.envs.base import ActionPolicy, MultiAgentEnv, Observation, evaluate_policy


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def transactions(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    """(E, 3) amounts and risk factors, read back from the observation's features 0 and 1."""
    x = obs.local_obs.astype(np.float64)
    return 10.0 ** (4.0 * x[:, :, 0]), x[:, :, 1] * routing.RISK_FACTOR_RANGE[1]


def fixed(*channels: int) -> ActionPolicy:
    def policy(obs: Observation) -> np.ndarray:
        return np.tile(np.asarray(channels, np.int64), (obs.agent_mask.shape[0], 1))

    return policy


# --- queueing ----------------------------------------------------------------------------------


def test_one_tick_of_queueing_by_hand() -> None:
    idle = np.zeros((1, 3))
    arrivals, latency = route(idle, np.array([[0, 0, 0]]))
    np.testing.assert_array_equal(arrivals, [[3, 0, 0]])
    # Internal serves 1 a tick: the three wait 0, 1 and 2 ticks, each gets the mean, 1 tick.
    assert latency[0, 0] == pytest.approx(20.0 + 100.0)
    arrivals, latency = route(idle, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(arrivals, [[1, 1, 1]])
    np.testing.assert_allclose(latency[0], BASE_LATENCY_MS)  # alone: no wait
    # A backlog of 3 on external (1.5 a tick) delays a new arrival by 2 ticks.
    _, latency = route(np.array([[0.0, 3.0, 0.0]]), np.array([[1, 2, 2]]))
    assert latency[0, 1] == pytest.approx(80.0 + 200.0)
    assert latency[0, 2] == pytest.approx(200.0 + 100.0 * 0.5 / 3.0)


def test_everyone_on_the_fast_channel_is_slower_than_spreading_out() -> None:
    def latency(policy: ActionPolicy) -> float:
        return evaluate_policy(policy, RoutingEnv(1, seed=3, episode_steps=3))["latency_ms"]

    # All internal: backlog 0, 2, 4 before ticks 1-3, so waits of 1, 3 and 5 ticks:
    # 20 + 100, 20 + 300, 20 + 500 ms, a mean of 320 ms. Spread out: (20 + 80 + 200) / 3.
    assert latency(fixed(0, 0, 0)) == pytest.approx(320.0)
    assert latency(fixed(0, 1, 2)) == pytest.approx(100.0)


# --- one step's reward by hand -----------------------------------------------------------------


def hand_step(amount: np.ndarray, k: np.ndarray, channels: np.ndarray) -> tuple[float, float]:
    """The team reward and portfolio risk of a first tick (empty queues and window)."""
    latency = BASE_LATENCY_MS[channels].copy()
    for c in range(3):  # the n arrivals on one channel share the mean wait (n - 1) / 2 / capacity
        n = int((channels == c).sum())
        latency[channels == c] += 100.0 * max(n - 1, 0) / 2.0 / routing.CAPACITY[c]
    cost = np.maximum(latency - LATENCY_TARGET_MS, 0.0) / 100.0 + FEE_USD[channels]
    risk = float((amount * k * CHANNEL_RISK[channels]).sum() / amount.sum())
    penalty = 3.0 + (risk - RISK_LIMIT) * 100.0 if risk > RISK_LIMIT else 0.0
    return float(-cost.sum() - penalty), risk


@pytest.mark.parametrize("channels", [(0, 0, 0), (0, 1, 2), (1, 1, 2), (2, 2, 2)])
def test_first_step_reward_by_hand(channels: tuple[int, int, int]) -> None:
    env = RoutingEnv(8, seed=11, episode_steps=5)
    obs = env.reset()
    amount, k = transactions(obs)
    actions = np.tile(np.asarray(channels), (8, 1))
    _, result = env.step(actions)
    for e in range(8):
        team, _ = hand_step(amount[e], k[e], np.asarray(channels))
        assert result.team_reward[e] == pytest.approx(team, rel=1e-4, abs=1e-4)
        # The routers' own rewards add up to the team's, and so do the trained ones.
        assert result.individual_rewards[e].sum() == pytest.approx(team, rel=1e-4, abs=1e-4)
        assert result.agent_rewards[e].sum() == pytest.approx(team, rel=1e-4, abs=1e-4)
        assert obs.local_obs[e, 0, 2] == 0.0  # nothing routed yet
    assert not result.done.any()


def test_a_violation_is_charged_to_the_riskiest_router() -> None:
    """Find a first tick that breaks the limit with everyone internal (seeds in order), then
    check the penalty's size and who pays it."""
    for seed in range(200):
        env = RoutingEnv(1, seed=seed, episode_steps=5)
        amount, k = transactions(env.reset())
        _, risk = hand_step(amount[0], k[0], np.zeros(3, np.int64))
        if risk > RISK_LIMIT + 0.01:
            break
    else:
        pytest.fail("no first tick over the limit in 200 seeds")
    _, result = env.step(np.zeros((1, 3), np.int64))
    fees_and_latency = 0.1 + 0.2  # each: $0.10 and 120 ms (20 ms over the target)
    penalty = 3.0 + (risk - RISK_LIMIT) * 100.0
    assert result.team_reward[0] == pytest.approx(-3 * fees_and_latency - penalty, rel=1e-4)
    share = amount[0] * k[0] / (amount[0] * k[0]).sum()  # same channel: risk ~ amount * k
    np.testing.assert_allclose(
        result.individual_rewards[0], -fees_and_latency - penalty * share, rtol=1e-4
    )


# --- determinism and the protocol --------------------------------------------------------------


def play(env: RoutingEnv, steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = env.reset()
    out = [obs.local_obs]
    for _ in range(steps):
        obs, result = env.step(rng.integers(0, 3, (env.n_envs, 3)))
        out += [obs.local_obs, result.agent_rewards, result.team_reward]
    return out


def test_deterministic_per_seed() -> None:
    a = play(RoutingEnv(4, seed=5, episode_steps=7), 20, seed=1)
    b = play(RoutingEnv(4, seed=5, episode_steps=7), 20, seed=1)
    c = play(RoutingEnv(4, seed=6, episode_steps=7), 20, seed=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    # Environment e's transactions do not depend on how many environments run beside it.
    np.testing.assert_array_equal(
        RoutingEnv(2, seed=5, episode_steps=7).reset().local_obs, a[0][:2]
    )
    # reset() replays: the same first transactions again.
    env = RoutingEnv(4, seed=5, episode_steps=7)
    first = env.reset().local_obs
    env.step(np.zeros((4, 3), np.int64))
    np.testing.assert_array_equal(env.reset().local_obs, first)


def test_satisfies_the_protocol() -> None:
    env = RoutingEnv(3, seed=0, episode_steps=4, signal_dim=32)
    assert isinstance(env, MultiAgentEnv)
    obs = env.reset()
    assert obs.local_obs.shape == (3, 3, routing.STATE_DIM)
    assert obs.local_obs.dtype == np.float32
    assert obs.global_state.shape == (3, 3, routing.STATE_DIM)
    assert obs.signals.shape == (3, 3, 32)
    assert not obs.signals.any()
    assert obs.agent_mask.all()
    assert obs.pack_mask.all()
    assert obs.action_mask.shape == (3, 3, 3)
    assert obs.action_mask.all()
    np.testing.assert_array_equal(obs.local_obs[:, :, 9:12], np.broadcast_to(np.eye(3), (3, 3, 3)))
    total = np.zeros(3)
    for t in range(4):
        obs, result = env.step(np.ones((3, 3), np.int64))
        total += result.team_reward
        assert result.done.all() == (t == 3)
    # The time limit ends every episode (truncated: the traffic goes on, bootstrap its value).
    assert result.truncated.all()
    assert result.terminal_global_state.shape == (3, 3, routing.STATE_DIM)
    assert result.terminal_global_state[:, :, 12] == pytest.approx(1.0)  # elapsed: all of it
    assert obs.local_obs[:, :, 12] == pytest.approx(0.0)  # auto-reset: a new episode
    ep = result.episodes
    np.testing.assert_array_equal(ep.env_index, [0, 1, 2])
    np.testing.assert_array_equal(ep.length, [4, 4, 4])
    np.testing.assert_allclose(ep.team_return, total, rtol=1e-5)
    summary = env.summarize(ep)
    assert env.score_name in summary
    assert summary["team_return"] == pytest.approx(total.mean(), rel=1e-5)
    assert summary["external_pct"] == pytest.approx(100.0)
    assert summary["fee_usd"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match="channels"):
        env.step(np.full((3, 3), 3, np.int64))


def test_summarize_refuses_episodes_of_another_env() -> None:
    from models.envs.pack_combat.simulator import PackCombatEnv

    pack = PackCombatEnv(2, seed=0, max_steps=1)
    pack.reset()
    _, result = pack.step(np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match="routing figures"):
        RoutingEnv(2, seed=0).summarize(result.episodes)


def test_greedy_alone_herds() -> None:
    """All three routers see the same queues, so the myopic greedy sends them to one channel."""
    env = RoutingEnv(4, seed=2)
    actions = routing.greedy_alone(env.reset())
    assert (actions == actions[:, :1]).all()


# --- the command -------------------------------------------------------------------------------


def test_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    routing.main(
        [
            "--episodes=8",
            "--n-envs=4",
            "--episode-steps=6",
            "--hidden=16",
            "--eval-every=1",
            "--eval-episodes=4",
            "--final-episodes=6",
            "--epochs=1",
        ]
    )
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("policy"))
    for column in ("team return", "latency ms", "risk violations", "fee/tx"):
        assert column in header
    rows = [
        re.split(r"\s{2,}", line)
        for line in out.splitlines()
        if line.startswith(("random", "greedy", "MAPPO"))
    ]
    assert [r[0] for r in rows] == [
        "random",
        "greedy: always internal",
        "greedy: each router alone",
        "MAPPO after 8 episodes (best eval)",  # the seed's 200 episodes are not reached
    ]
    # Always internal, by hand: waits of 1, 3, ..., 11 ticks over the 6 ticks, 20 + 600 ms.
    assert float(rows[1][2]) == pytest.approx(620.0)
    assert "training:" in out
    assert "8 episodes, 2 updates" in out
