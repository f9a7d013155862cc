"""Simulator mechanics on hand-built positions, and the balance the product's evidence relies on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import (
    Intents,
    Units,
    monster_intents,
    move_toward,
    resolve_hits,
)
from models.envs.pack_combat.policies import (
    coordinated_policy,
    evaluate,
    nearest_attack_policy,
    random_policy,
)
from models.envs.pack_combat.simulator import PackCombatEnv
from models.envs.pack_combat.spawn import sample_encounters


def units(cls: list[int], pos: list[tuple[int, int]], table: np.ndarray) -> Units:
    """One environment's units of the given kinds and cells, full hp, base stats."""
    k = len(cls)
    u = Units.empty(1, k)
    stats = table[np.array(cls)][None]
    u.load(np.array([0]), stats, np.array([cls]), np.ones((1, k), bool), np.array([pos], float))
    return u


def intents(attack: list[int], k: int) -> Intents:
    a = np.array([attack])
    none = np.zeros((1, k), bool)
    return Intents(
        target=a,
        attack=a,
        attacking=a >= 0,
        heal_target=np.full((1, k), -1),
        healing=none,
        goal=np.zeros((1, k, 2)),
        moving=none,
        provoking=none,
        splash=none,
    )


def test_move_toward_is_chebyshev_and_stays_on_the_map() -> None:
    pos = np.array([[[2.0, 2.0], [0.0, 5.0]]])
    goal = np.array([[[9.0, 3.0], [-4.0, 5.0]]])
    out = move_toward(pos, goal, np.array([[2.0, 1.0]]), map_size=16)
    assert out.tolist() == [[[4.0, 3.0], [0.0, 5.0]]]


def test_flank_bonus_needs_opposite_sides() -> None:
    adv = units([R.KNIGHT], [(8, 8)], R.ADVENTURER_STATS)
    ones = np.ones((1, 2))
    nothing = intents([-1], 1)
    same_side = units([R.AGGRESSIVE, R.AGGRESSIVE], [(7, 8), (7, 9)], R.MONSTER_STATS)
    both = intents([0, 0], 2)
    hits = resolve_hits(same_side, adv, both, nothing, ones, np.ones((1, 1)), 1.0, 1)
    assert not hits.flanked.any()
    base = hits.by_monsters.sum()
    opposite = units([R.AGGRESSIVE, R.AGGRESSIVE], [(7, 8), (9, 8)], R.MONSTER_STATS)
    hits = resolve_hits(opposite, adv, both, nothing, ones, np.ones((1, 1)), 1.0, 1)
    assert hits.flanked.all()
    assert hits.by_monsters.sum() == pytest.approx(2 * base)


def test_wizard_splash_hits_the_cluster() -> None:
    mon = units([R.TANK, R.MAGE, R.RANGED], [(5, 5), (6, 5), (9, 9)], R.MONSTER_STATS)
    adv = units([R.WIZARD], [(5, 9)], R.ADVENTURER_STATS)
    cast = intents([0], 1)
    cast.splash[:] = True
    hits = resolve_hits(
        mon, adv, intents([-1, -1, -1], 3), cast, np.ones((1, 3)), np.ones((1, 1)), 1.0, 1
    )
    assert (hits.by_adventurers[0, 0] > 0).tolist() == [True, True, False]


def test_changing_target_costs_a_tick_of_wind_up() -> None:
    mon = units([R.RANGED], [(5, 5)], R.MONSTER_STATS)
    adv = units([R.KNIGHT, R.PRIEST], [(6, 5), (8, 5)], R.ADVENTURER_STATS)
    act = np.array([[R.FOCUS_FIRE]])
    kwargs = {
        "mon": mon,
        "adv": adv,
        "actions": act,
        "acting": np.ones((1, 1), bool),
        "focus": np.array([1]),
        "leader": np.array([0]),
        "adv_target": np.full((1, 2), -1),
        "map_size": 16,
    }
    fresh = monster_intents(aim=np.array([[0]]), **kwargs)  # type: ignore[arg-type]
    assert fresh.target.tolist() == [[1]]
    assert not fresh.attacking.any()
    steady = monster_intents(aim=np.array([[1]]), **kwargs)  # type: ignore[arg-type]
    assert steady.attacking.all()


def test_priest_heals_half_the_packs_attack() -> None:
    sc = R.Scenario()
    enc = sample_encounters(np.random.default_rng(3), 200, (2, 5), (2, 4), sc)
    pack_attack = (enc.mon_stats[..., R.ATK] * enc.mon_present).sum(1)
    priest = (enc.adv_class == R.PRIEST) & enc.adv_present
    heal = (enc.adv_stats[..., R.HEAL] * priest).sum(1)
    np.testing.assert_allclose(heal, sc.priest_heal * pack_attack)
    assert not (enc.adv_stats[..., R.HEAL] * ~priest).any()


def test_scripted_policies_respect_masks_and_read_only_local_views() -> None:
    env = PackCombatEnv(64, seed=31)
    obs = env.reset()
    rng = np.random.default_rng(2)
    for _ in range(40):
        for policy in (coordinated_policy, nearest_attack_policy):
            acts = policy(obs)
            chosen = np.take_along_axis(obs.action_mask, acts[..., None], 2)[..., 0]
            assert chosen.all()
        blind = dataclasses.replace(obs, global_state=np.zeros_like(obs.global_state))
        assert np.array_equal(coordinated_policy(blind), coordinated_policy(obs))
        assert (nearest_attack_policy(obs)[obs.agent_mask] == R.SPLIT).all()
        obs, _ = env.step(random_policy(obs, rng))


def test_coordination_wins_where_the_baseline_does_not() -> None:
    """The standard scenario's design goal, on fewer episodes than bench/simulator.py --eval."""
    rng = np.random.default_rng(0)
    coordinated = evaluate(coordinated_policy, 300, seed=2024)
    baseline = evaluate(nearest_attack_policy, 300, seed=2024)
    rand = evaluate(lambda o: random_policy(o, rng), 300, seed=2024)
    assert coordinated.win_rate >= 0.82
    assert 0.2 <= baseline.win_rate <= 0.5
    assert rand.win_rate < 0.25
    assert coordinated.coordinated_kills > baseline.coordinated_kills
    assert coordinated.team_return > baseline.team_return > rand.team_return
