"""Pack-combat simulator: API contract, determinism, masks, observations and rewards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from models.envs.base import Observation
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.observe import ADV_BASE, ADV_FEATURES, ALLY_BASE, G_ADV_BASE, G_FIGHT
from models.envs.pack_combat.policies import nearest_attack_policy, random_policy
from models.envs.pack_combat.simulator import DEFEAT, TIMEOUT, VICTORY, PackCombatEnv

ROOT = Path(__file__).resolve().parents[1]


def random_actions(obs: Observation, seed: int) -> np.ndarray:
    return random_policy(obs, np.random.default_rng(seed))


def rollout(env: PackCombatEnv, steps: int, seed: int) -> list[np.ndarray]:
    """Everything observable over `steps` random steps, flattened for comparison."""
    obs = env.reset()
    rng = np.random.default_rng(seed)
    trace = []
    for _ in range(steps):
        obs, res = env.step(random_policy(obs, rng))
        trace += [obs.local_obs, obs.signals, obs.global_state, obs.action_mask]
        trace += [res.team_reward, res.agent_rewards, res.done, res.episodes.outcome]
    return trace


def test_shapes_dtypes_and_masks() -> None:
    env = PackCombatEnv(64, seed=1)
    obs = env.reset()
    E, N = 64, R.MAX_PACK
    assert obs.local_obs.shape == (E, N, 64)
    assert obs.local_obs.dtype == np.float32
    assert obs.signals.shape == (E, N, 32)
    assert obs.signals.dtype == np.float32
    assert obs.global_state.shape == (E, N, 64)
    assert obs.global_state.dtype == np.float32
    assert obs.action_mask.shape == (E, N, 7)
    assert obs.action_mask.dtype == bool
    sizes = obs.pack_mask.sum(1)
    assert sizes.min() >= 2
    assert sizes.max() <= 5
    # Slots are filled from the front; every living agent is a pack member.
    assert (np.diff(obs.pack_mask.astype(int), axis=1) <= 0).all()
    assert not (obs.agent_mask & ~obs.pack_mask).any()
    padded = ~obs.pack_mask
    assert not obs.local_obs[padded].any()
    assert not obs.global_state[padded].any()
    assert not obs.signals[padded].any()
    obs, res = env.step(nearest_attack_policy(obs))
    assert res.team_reward.shape == (E,)
    assert res.agent_rewards.shape == (E, N)
    assert res.done.shape == (E,)
    assert res.terminal_global_state.shape == (E, N, 64)


def test_non_acting_slots_allow_only_action_zero() -> None:
    env = PackCombatEnv(128, seed=2)
    obs = env.reset()
    for _ in range(30):
        idle = ~obs.agent_mask
        assert (obs.action_mask[idle] == np.eye(7, dtype=bool)[0]).all()
        assert not obs.local_obs[idle].any()
        assert not obs.signals[idle].any()
        assert obs.action_mask[obs.agent_mask].sum(-1).min() >= 4
        lone = obs.agent_mask & (obs.agent_mask.sum(1) == 1)[:, None]
        for a in (R.HELP_ALLY, R.GROUP_UP, R.PROTECT_WEAK):
            assert not obs.action_mask[lone, a].any()
        obs, _ = env.step(random_actions(obs, 3))


def test_same_seed_same_trajectory_and_other_seed_differs() -> None:
    first = rollout(PackCombatEnv(32, seed=7, max_steps=30), 70, seed=11)
    second = rollout(PackCombatEnv(32, seed=7, max_steps=30), 70, seed=11)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    other = rollout(PackCombatEnv(32, seed=8, max_steps=30), 70, seed=11)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="pack_size"):
        PackCombatEnv(4, pack_size=(1, 3))
    with pytest.raises(ValueError, match="n_adventurers"):
        PackCombatEnv(4, n_adventurers=5)
    with pytest.raises(ValueError, match="scenario"):
        PackCombatEnv(4, scenario="arena")
    env = PackCombatEnv(4, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((4, 3), np.int64))
    with pytest.raises(ValueError, match=r"\[0, 7\)"):
        env.step(np.full((4, 5), 7))


def test_pack_size_and_party_size_ranges() -> None:
    env = PackCombatEnv(200, pack_size=3, n_adventurers=(2, 3), seed=4)
    obs = env.reset()
    assert (obs.pack_mask.sum(1) == 3).all()
    n_adv = env.adv.present.sum(1)
    assert n_adv.min() == 2
    assert n_adv.max() == 3
    # Every party of two or more carries a priest.
    assert ((env.adv.cls == R.PRIEST) & env.adv.present).any(1).all()
    env.set_pack_size((4, 5))
    obs = env.reset()
    assert obs.pack_mask.sum(1).min() == 4


def test_team_reward_weight_matches_config_and_mixes_rewards() -> None:
    config = yaml.safe_load((ROOT / "config" / "ctde_config.yaml").read_text())
    env = PackCombatEnv(64, seed=5)
    assert env.team_reward_weight == config["ctde"]["team_reward_weight"]
    obs = env.reset()
    w = env.team_reward_weight
    for _ in range(40):
        acting = obs.agent_mask
        obs, res = env.step(nearest_attack_policy(obs))
        expected = w * res.team_reward[:, None] + (1 - w) * res.individual_rewards
        np.testing.assert_allclose(res.agent_rewards[acting], expected[acting], rtol=1e-5)
        assert not res.agent_rewards[~acting].any()


def test_episode_returns_add_up_and_outcomes_are_consistent() -> None:
    env = PackCombatEnv(48, seed=6, max_steps=40, auto_reset=False)
    obs = env.reset()
    total = np.zeros(48)
    seen: dict[int, tuple[int, float, int]] = {}
    for _ in range(40):
        acting_before = obs.agent_mask.any(1)
        obs, res = env.step(nearest_attack_policy(obs))
        assert not res.team_reward[~acting_before].any()  # frozen envs earn nothing
        total += res.team_reward
        for i, e in enumerate(res.episodes.env_index):
            seen[int(e)] = (int(res.episodes.outcome[i]), float(res.episodes.team_return[i]), i)
            assert res.truncated[e] == (res.episodes.outcome[i] == TIMEOUT)
        assert not (res.truncated & ~res.done).any()
    assert len(seen) == 48  # every episode ended by the time limit at the latest
    for e, (outcome, ret, _) in seen.items():
        assert ret == pytest.approx(total[e])
        living = env.mon.alive[e].any()
        adv_living = env.adv.alive[e].any()
        assert (outcome == VICTORY) == (living and not adv_living)
        assert (outcome == DEFEAT) == (not living)
        assert (outcome == TIMEOUT) == (living and adv_living)
    assert not obs.agent_mask.any()
    obs = env.reset(np.array([3, 5]))
    assert set(np.nonzero(obs.agent_mask.any(1))[0]) == {3, 5}


def test_victory_pays_survival_and_kills_pay_five() -> None:
    env = PackCombatEnv(256, seed=9)
    obs = env.reset()
    checked_victory = checked_kill = False
    for _ in range(60):
        alive_before = env.mon.alive.copy()
        obs, res = env.step(nearest_attack_policy(obs))
        terms = res.terms
        win = res.done & (terms.survival > 0)
        if win.any():
            checked_victory = True
            e = int(np.nonzero(win)[0][0])
            stats = res.episodes
            row = int(np.nonzero(stats.env_index == e)[0][0])
            assert stats.outcome[row] == VICTORY
            assert terms.survival[e] == pytest.approx(stats.pack_survival[row])
        assert not terms.survival[~res.done].any()
        checked_kill |= bool(terms.coordinated_kills.any())
        expected = (
            10 * terms.survival
            + 5 * terms.coordinated_kills
            + 3 * terms.formation / env.max_steps
            + 2 * terms.support
        )
        live = alive_before.any(1)
        np.testing.assert_allclose(res.team_reward[live], expected[live], rtol=1e-5, atol=1e-6)
        assert ((terms.formation >= 0) & (terms.formation <= 1)).all()
    assert checked_victory
    assert checked_kill


def test_auto_reset_reports_the_terminal_state() -> None:
    env = PackCombatEnv(64, seed=10)
    obs = env.reset()
    for _ in range(60):
        obs, res = env.step(nearest_attack_policy(obs))
        for e in np.nonzero(res.done)[0]:
            term = res.terminal_global_state[e]
            alive = term[:, 0] > 0
            adv_alive = term[0, G_ADV_BASE : G_ADV_BASE + 32 : 8] > 0
            assert (not alive.any()) or (not adv_alive.any()) or res.truncated[e]
            assert obs.agent_mask[e].sum() == obs.pack_mask[e].sum()  # a fresh pack
            assert obs.global_state[e, 0, G_FIGHT] == 0.0  # t = 0


def test_local_observation_layout() -> None:
    env = PackCombatEnv(64, seed=12)
    obs = env.reset()
    for _ in range(15):
        obs, _ = env.step(nearest_attack_policy(obs))
    mon, adv = env.mon, env.adv
    for e in range(64):
        for n in np.nonzero(obs.agent_mask[e])[0]:
            row = obs.local_obs[e, n]
            assert row[0] == pytest.approx(mon.hp[e, n] / mon.max_hp[e, n])
            assert row[2:8].argmax() == mon.cls[e, n]
            assert row[2:8].sum() == 1
            assert row[8] == float(n == env.leader[e])
            slots = row[ADV_BASE : ADV_BASE + 4 * ADV_FEATURES].reshape(4, ADV_FEATURES)
            visible = slots[:, 0] > 0
            assert visible.sum() <= adv.alive[e].sum()
            assert (np.diff(visible.astype(int)) <= 0).all()  # visible slots come first
            dist = np.abs(slots[visible, 1:3]).max(1)
            assert (np.diff(dist) >= -1e-6).all()  # nearest first
            assert slots[visible, 4].sum() <= 1  # one focus target at most
            allies = row[ALLY_BASE:].reshape(4, 4)
            assert (allies[:, 2] > 0).sum() == mon.alive[e].sum() - 1


def test_global_state_is_shared_and_privileged() -> None:
    env = PackCombatEnv(32, seed=13)
    obs = env.reset()
    obs, _ = env.step(nearest_attack_policy(obs))
    g = obs.global_state
    for e in range(32):
        rows = g[e, obs.pack_mask[e]]
        assert (rows[:, G_ADV_BASE:] == rows[0, G_ADV_BASE:]).all()  # same world for everyone
        advs = rows[0, G_ADV_BASE : G_ADV_BASE + 32].reshape(4, 8)
        ratio = env.adv.hp[e] / np.maximum(env.adv.max_hp[e], 1e-9)
        np.testing.assert_allclose(advs[:, 3], ratio, rtol=1e-6)


def test_timeout_truncates_at_max_steps() -> None:
    env = PackCombatEnv(8, seed=14, max_steps=3)
    obs = env.reset()
    for step in range(3):
        obs, res = env.step(np.where(obs.agent_mask, R.GROUP_UP, 0))
        if step < 2:
            assert not res.truncated.any()
    assert res.truncated.all()
    assert res.done.all()
    assert (res.episodes.length == 3).all()
