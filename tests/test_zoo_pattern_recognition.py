"""pattern_recognition: each tactic changes what the players do as tactics.py says (hand-built
fights), the hook leaves the simulator's own script in place outside its block, the step
features measure what they name, windows are padded before a fight's start, and a tiny training
recognizes the tactics of held-out fights well above chance."""

from __future__ import annotations

import numpy as np
import torch

from models.envs.contract_combat import env as env_module
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.pack_combat.combat import Intents, Units, adventurer_intents
from models.envs.pack_combat.rules import HUNTER, KNIGHT, PRIEST
from models.zoo.base import NoCheckpoints, ZooSettings, run_module
from models.zoo.tasks.pattern_recognition import (
    FEATURES,
    TASK,
    augment,
    record_windows,
    snapshot,
    step_features,
    windows,
)
from models.zoo.tasks.tactics import (
    FOCUS_FIRE,
    HEALER_BACKED,
    KITING,
    MELEE_RUSH,
    playing,
    tactic_intents,
)
from plpython.zoo_types import PATTERN_FEATURES, PATTERN_STEPS, TACTICS, zoo_type

S = 24


def units(pos: list[tuple[int, int]], cls: list[int], hp: list[float], rng: float = 1.0) -> Units:
    k = len(pos)
    u = Units.empty(1, k)
    u.present[:] = True
    u.alive[:] = True
    u.pos = np.array([pos], float)
    u.cls = np.array([cls])
    u.max_hp = np.full((1, k), 100.0)
    u.hp = np.array([hp])
    u.atk = np.full((1, k), 10.0)
    u.range = np.where(u.cls == KNIGHT, 1.0, np.where(u.cls < 4, 7.0, rng))
    u.heal = np.where(u.cls == PRIEST, 5.0, 0.0)
    u.speed = np.ones((1, k))
    return u


def intents(tactic: int, adv: Units, mon: Units, step: int = 0) -> Intents:
    acting = adv.alive.copy()
    base = adventurer_intents(
        adv,
        mon,
        acting,
        np.full((1, adv.alive.shape[1]), -1),
        np.zeros(mon.alive.shape, bool),
        0,
        S,
    )
    return tactic_intents(base, adv, mon, acting, np.array([tactic]), np.array([step]), S)


def test_melee_rush_closes_to_contact_before_striking() -> None:
    adv = units([(5, 5), (5, 9)], [KNIGHT, HUNTER], [100.0, 100.0])
    mon = units([(6, 5), (5, 12)], [0, 0], [100.0, 100.0], rng=1.0)
    ai = intents(MELEE_RUSH, adv, mon)
    # The knight is adjacent and strikes; the hunter (3 cells off, in its bow's range) walks in.
    assert ai.attacking[0, 0]
    assert ai.attack[0, 0] == 0
    assert not ai.attacking[0, 1]
    assert ai.moving[0, 1]
    assert ai.target[0, 1] == 1
    assert tuple(ai.goal[0, 1]) == (5.0, 12.0)


def test_kiters_step_away_from_a_close_monster_and_shoot_from_afar() -> None:
    adv = units([(5, 5), (12, 12)], [HUNTER, HUNTER], [100.0, 100.0])
    mon = units([(5, 7), (12, 17)], [0, 0], [100.0, 100.0])
    ai = intents(KITING, adv, mon)
    # Two cells from a monster: the first hunter backs off (its goal is farther from it).
    assert ai.moving[0, 0]
    assert not ai.attacking[0, 0]
    assert abs(ai.goal[0, 0, 1] - 7) > 2
    # Five cells away, in range: the second shoots.
    assert ai.attacking[0, 1]
    # A kiting knight strikes on even steps and steps back on odd ones.
    knight = units([(5, 5)], [KNIGHT], [100.0])
    foe = units([(5, 6)], [0], [100.0])
    assert intents(KITING, knight, foe, step=0).attacking[0, 0]
    odd = intents(KITING, knight, foe, step=1)
    assert not odd.attacking[0, 0]
    assert odd.moving[0, 0]
    assert odd.goal[0, 0, 1] < 5


def test_focus_fire_puts_the_whole_party_on_the_least_healthy_monster() -> None:
    adv = units([(5, 5), (5, 8), (9, 5)], [KNIGHT, HUNTER, HUNTER], [100.0] * 3)
    mon = units([(5, 6), (8, 8), (9, 6)], [0, 0, 0], [90.0, 30.0, 100.0])
    ai = intents(FOCUS_FIRE, adv, mon)
    assert (ai.target == 1).all()
    assert not ai.attacking[0, 0]
    assert ai.moving[0, 0]
    assert ai.attacking[0, 1]
    assert ai.attacking[0, 2]


def test_a_healer_backed_party_falls_back_to_its_priest() -> None:
    adv = units([(5, 5), (10, 10), (4, 4)], [KNIGHT, HUNTER, PRIEST], [30.0, 100.0, 100.0])
    mon = units([(5, 6), (18, 18)], [0, 0], [100.0, 100.0])
    ai = intents(HEALER_BACKED, adv, mon)
    # The hurt knight walks back to the priest; the priest heals it (it is in range).
    assert not ai.attacking[0, 0]
    assert tuple(ai.goal[0, 0]) == (4.0, 4.0)
    assert ai.healing[0, 2]
    assert ai.heal_target[0, 2] == 0
    # Outside healer_backed the priest keeps its heals for emergencies (the knight is at 30%).
    assert intents(FOCUS_FIRE, adv, mon).healing[0, 2]
    adv.hp[0, 0] = 60.0
    assert not intents(FOCUS_FIRE, adv, mon).healing[0, 2]
    assert not intents(MELEE_RUSH, adv, mon).healing.any()


def test_the_hook_plays_the_tactic_only_inside_its_block() -> None:
    env = ContractCombatEnv(4, seed=1)
    original = adventurer_intents
    seen: list[Intents] = []
    obs = env.reset()
    with playing(env, np.full(4, FOCUS_FIRE), seen):
        assert vars(env_module)["adventurer_intents"] is not original
        env.step(np.zeros((4, 5), np.int64))
    assert vars(env_module)["adventurer_intents"] is original
    assert len(seen) == 1
    assert seen[0].target.shape == (4, 4)
    del obs


def test_step_features_measure_what_they_name() -> None:
    env = ContractCombatEnv(1, seed=0)
    env.reset()
    u, m = env.players.units, env.monsters
    u.alive[:] = u.present[:] = [True, True, False, False]
    u.pos[0, :2] = [[5, 5], [5, 9]]
    u.hp[0, :2] = u.max_hp[0, :2] * 0.5
    m.alive[:] = m.present[:] = [True, True, False, False, False]
    m.pos[0, :2] = [[5, 6], [5, 12]]
    before = snapshot(env)
    seen: list[Intents] = []
    with playing(env, np.array([FOCUS_FIRE]), seen):
        env.step(np.zeros((1, 5), np.int64))
    f = dict(zip(FEATURES, step_features(before, seen[-1])[0], strict=True))
    assert f["alive_players"] == 0.5
    assert np.isclose(f["min_distance"], 1 / 14)
    assert np.isclose(f["mean_distance"], 2 / 14)
    assert np.isclose(f["party_hp"], 0.5)
    assert np.isclose(f["spread"], 2 / 7)
    # Everyone who struck struck the same monster.
    assert f["attack_share"] > 0
    assert f["focus"] == 1.0


def test_windows_are_zero_padded_before_the_fight_and_carry_the_approach() -> None:
    fight = np.zeros((10, PATTERN_FEATURES))
    fight[:, 1] = np.linspace(1.0, 0.1, 10)
    w = windows(fight)
    assert w.shape[1:] == (PATTERN_STEPS, PATTERN_FEATURES)
    assert len(w) == 2  # ending at steps 10 and 7
    first = w[0]  # 9 padded steps, then the fight's first 7
    assert (first[:9] == 0).all()
    assert np.isclose(first[9, 1], 1.0)
    step = (0.1 - 1.0) / 9 * 14 / 2
    assert np.allclose(first[10:, FEATURES.index("approach")], step)
    assert w[-1][-1, 1] == fight[-1, 1]


def test_augmentations_keep_the_recent_steps_and_crop_old_ones() -> None:
    torch.manual_seed(0)
    x = torch.ones(64, PATTERN_STEPS * PATTERN_FEATURES)
    view = augment(x).reshape(64, PATTERN_STEPS, PATTERN_FEATURES)
    assert (view[:, -10:].abs().mean((1, 2)) > 0.5).all()
    assert (view[:, :6].abs().amax(2) < 0.2).any()


def test_a_tiny_training_recognizes_held_out_tactics_well_above_chance() -> None:
    settings = ZooSettings(profile="tiny", seed=0)
    data = TASK.collect("aggressive", settings)
    assert set(np.unique(data["y"])) == set(range(len(TACTICS)))
    trained = TASK.train("aggressive", settings, data, None, NoCheckpoints())
    held = record_windows("aggressive", 100, seed=77)
    probs = run_module(trained.module, held["x"])
    assert probs.shape == (400, zoo_type("pattern_recognition").output_dim)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    accuracy = float((probs.argmax(1) == held["y"]).mean())
    assert accuracy > 0.5, accuracy
