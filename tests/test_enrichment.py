"""The database's pack features (models/envs/contract_combat/enrichment.py): hand-checked on a
built pack of three (the expected floats are written out here from the feature table, not
computed by the module), zeros for empty slots and the dead, the master as leader, and the
environment's `enrich` option (shape, the contract's 64 floats unchanged, MAPPO trains on it)."""

from __future__ import annotations

import numpy as np
import pytest

from models.envs.contract_combat.enrichment import K, pack_features
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.recipes import leader_and_focus
from models.envs.contract_combat.units import Monsters
from tests.ctde_helpers import tiny_contract_trainer


def pack_of_three() -> Monsters:
    """One fight: slot 0 at (5, 5) with 1000 / 2000 hp, slot 1 at (8, 3) with 3000 / 4000 (the
    most max hp: the leader), slot 2 at (20, 5) with 300 / 1000; slots 3 and 4 empty."""
    m = Monsters.empty(1)
    m.present[0, :3] = True
    m.alive[0, :3] = True
    m.pos[0, :3] = [[5, 5], [8, 3], [20, 5]]
    m.hp[0, :3] = [1000, 3000, 300]
    m.max_hp[0, :3] = [2000, 4000, 1000]
    return m


def leader_of(m: Monsters) -> np.ndarray:
    """The environment's rule, as the signals use it."""
    env = ContractCombatEnv(1, seed=0)
    env.monsters = m
    leader, _ = leader_and_focus(m, env.players.units)
    return leader


def test_k_is_small() -> None:
    assert K == 22


def test_pack_of_three_by_hand() -> None:
    m = pack_of_three()
    leader = leader_of(m)
    assert leader.tolist() == [1]
    f = pack_features(m, leader)
    assert f.shape == (1, 5, K)
    assert f.dtype == np.float32
    mean, low = (0.5 + 0.75 + 0.3) / 3, 0.3
    zero4 = [0.0] * 4
    # size, leader, to leader (dx, dy), mates in slot order (dx, dy, hp, alive) x 4, mean, min
    want = np.array(
        [
            [0.6, 0, 0.3, -0.2, 0.3, -0.2, 0.75, 1, 1.0, 0.0, 0.3, 1, *zero4, *zero4, mean, low],
            [0.6, 1, 0.0, 0.0, -0.3, 0.2, 0.5, 1, 1.0, 0.2, 0.3, 1, *zero4, *zero4, mean, low],
            [0.6, 0, -1.0, -0.2, -1.0, 0.0, 0.5, 1, -1.0, -0.2, 0.75, 1, *zero4, *zero4, mean, low],
            [0.0] * K,
            [0.0] * K,
        ]
    )
    np.testing.assert_allclose(f[0], want, atol=1e-6)


def test_dead_monster_is_an_empty_slot() -> None:
    m = pack_of_three()
    m.alive[0, 2] = False
    m.hp[0, 2] = 0.0
    f = pack_features(m, leader_of(m))
    assert not f[0, 2:].any()  # the dead and the padding
    zero4 = [0.0] * 4
    mean, low = (0.5 + 0.75) / 2, 0.5
    want0 = [0.4, 0, 0.3, -0.2, 0.3, -0.2, 0.75, 1, *zero4, *zero4, *zero4, mean, low]
    np.testing.assert_allclose(f[0, 0], want0, atol=1e-6)
    want1 = [0.4, 1, 0.0, 0.0, -0.3, 0.2, 0.5, 1, *zero4, *zero4, *zero4, mean, low]
    np.testing.assert_allclose(f[0, 1], want1, atol=1e-6)


def test_the_master_leads() -> None:
    m = pack_of_three()
    m.master[0, 2] = 0  # slot 0 is slot 2's master: it leads despite less max hp
    leader = leader_of(m)
    assert leader.tolist() == [0]
    f = pack_features(m, leader)
    assert f[0, :3, 1].tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(f[0, 0, 2:4], [0.0, 0.0])
    np.testing.assert_allclose(f[0, 1, 2:4], [-0.3, 0.2], atol=1e-6)
    np.testing.assert_allclose(f[0, 2, 2:4], [-1.0, 0.0], atol=1e-6)


def test_no_leader_no_offsets() -> None:
    m = pack_of_three()
    f = pack_features(m, np.array([-1]))
    assert not f[0, :, 1:4].any()
    assert f[0, :3, 0].tolist() == pytest.approx([0.6] * 3)


@pytest.mark.parametrize("enrich", [False, True])
def test_env_shape(enrich: bool) -> None:
    env = ContractCombatEnv(4, seed=3, action_space="pack", enrich=enrich)
    obs = env.reset()
    assert obs.local_obs.shape == (4, 5, 64 + K * enrich)
    assert obs.local_obs.dtype == np.float32
    assert not obs.local_obs[~obs.agent_mask].any()


def test_env_padding_is_zero() -> None:
    env = ContractCombatEnv(4, seed=1, pack_size=2, action_space="pack", enrich=True)
    obs = env.reset()
    assert not obs.local_obs[:, 2:].any()
    extra = obs.local_obs[:, :2, 64:]
    np.testing.assert_allclose(extra[..., 0], 0.4)  # two of five
    assert extra[..., 1].sum(1).tolist() == [1.0] * 4  # one leader per fight
    assert not extra[..., 8:20].any()  # no packmate beyond the first
    np.testing.assert_allclose(extra[..., 7], 1.0)  # the first packmate is alive


def test_enrich_leaves_the_contract_unchanged() -> None:
    plain = ContractCombatEnv(8, seed=5, action_space="pack")
    rich = ContractCombatEnv(8, seed=5, action_space="pack", enrich=True)
    a, b = plain.reset(), rich.reset()
    rng = np.random.default_rng(0)
    for _ in range(40):
        np.testing.assert_array_equal(a.local_obs, b.local_obs[..., :64])
        np.testing.assert_array_equal(a.signals, b.signals)
        np.testing.assert_array_equal(a.global_state, b.global_state[..., :64])
        assert not b.global_state[..., 64:].any()  # the critic's state padded with zeros
        leader, _ = leader_and_focus(rich.monsters, rich.players.units)
        np.testing.assert_array_equal(b.local_obs[..., 64:], pack_features(rich.monsters, leader))
        act = rng.integers(0, plain.n_actions, (8, 5))
        a, ra = plain.step(act)
        b, rb = rich.step(act)
        np.testing.assert_array_equal(ra.team_reward, rb.team_reward)
        assert rb.terminal_global_state.shape == (8, 5, 64 + K)


def test_mappo_trains_on_enriched_state() -> None:
    t = tiny_contract_trainer(
        {
            "action_dim": 7,
            "state_dim": 64 + K,
            "actor": {"hidden_dim": 16, "dropout": 0.0, "use_gru": True},
            "inference": {"use_signals": True, "coordination_threshold": 0.7},
        },
        action_space="pack",
        enrich=True,
    )
    history = t.train()
    assert len(history.updates) == 2
    summary = t.evaluate(episodes=4)
    assert 0.0 <= summary["win_rate"] <= 1.0
