"""The contract-combat simulator: hand-built situations encoded exactly as the state contract's
table says (the expected floats are computed here from the table, not by the encoder), the
contract held over random play, each of the ten actions against its definition, determinism, the
environment protocol, two MAPPO updates, and the traditional AI against random actions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from config.model_types import DEFER
from models.envs.base import MultiAgentEnv, SupportsPackSize, evaluate_policy
from models.envs.contract_combat.encode import encode
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.execute import (
    ATTACK,
    CHANGE_TARGET,
    FLEE,
    IDLE,
    MOVE_AWAY,
    SKILL_1,
    SKILL_3,
)
from models.envs.contract_combat.traditional import TraditionalPolicy, traditional_actions
from models.envs.contract_combat.units import (
    BLESSING,
    DAMAGE,
    HEAL,
    IDLE_S,
    MAX_SKILLS,
    RUSH_S,
)
from models.envs.contract_combat.world import GROUND, STEP_MS, WALL, WATER
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.policies import random_policy
from plpython.state_contract import DIMENSIONS, dimension, problems
from tests.ctde_helpers import tiny_contract_trainer


def norm(x: float, a: float, b: float) -> float:
    return min(1.0, max(0.0, (x - a) / (b - a)))


def expected(values: dict[str, float]) -> np.ndarray:
    """A 64-float vector from values by dimension name; every dimension must be given."""
    assert set(values) == {d.name for d in DIMENSIONS}, set(
        DIMENSIONS[i].name for i in range(64)
    ) ^ set(values)
    out = np.zeros(64)
    for name, value in values.items():
        out[dimension(name).index] = value
    return out


# --- a hand-built arena ---------------------------------------------------------------------------


def arena(n_monsters: int = 2) -> ContractCombatEnv:
    """One fight on a plain 24 x 24 field by day: monsters 0.. plain (no skills, statuses, modes),
    monster slots beyond the first parked far away, one hunter with no attack at (20, 20)."""
    env = ContractCombatEnv(1, seed=0, pack_size=n_monsters, n_players=1)
    w, p = env.world, env.players
    w.cell[:] = GROUND
    w.refresh_cells()
    w.day[:] = True
    w.pvp[:] = w.gvg[:] = w.castle[:] = w.battleground[:] = False
    w.item_present[:] = False
    w.hazard_ttl[:] = 0
    for n in range(n_monsters):
        plain_monster(env, n, pos=(2 + 2 * n, 22))
    u = p.units
    u.cls[0] = R.HUNTER
    u.pos[0, 0] = (20, 20)
    u.max_hp[0, 0] = u.hp[0, 0] = 20000.0
    u.atk[0, 0] = 0.0
    u.heal[0, 0] = 0.0
    u.range[0, 0] = 7.0
    p.level[0, 0] = 80.0
    p.target[:] = -1
    return env


def plain_monster(env: ContractCombatEnv, n: int, pos: tuple[int, int], **fields: Any) -> None:
    m = env.monsters
    values: dict[str, Any] = {
        "present": True,
        "alive": True,
        "arch": 0,
        "level": 50.0,
        "hp": 5000.0,
        "max_hp": 5000.0,
        "sp": 100.0,
        "max_sp": 100.0,
        "atk1": 400.0,
        "atk2": 600.0,
        "armor": 0.0,
        "attack_range": 1.0,
        "view_range": 10.0,
        "chase_range": 12.0,
        "walk_speed": 150.0,
        "can_move": True,
        "blessed": 0,
        "ai_state": IDLE_S,
        "aggressive": False,
        "assist": False,
        "looter": False,
        "no_random_walk": False,
        "boss": False,
        "angry": False,
        "master": -1,
        "target": -1,
        "last_attacker": -1,
        "started_fight": False,
        "provoked": False,
        "attacking": False,
        "walking": False,
        "casting": False,
        "time_alive_ms": 0.0,
        "since_player_ms": 0.0,
    }
    values.update(fields)
    for name, value in values.items():
        getattr(m, name)[0, n] = value
    m.pos[0, n] = pos
    m.spawn[0, n] = fields.get("spawn", pos)
    m.status[0, n] = 0
    m.skill_kind[0, n] = -1
    m.skill_delay[0, n] = m.skill_cd[0, n] = m.skill_sp[0, n] = 0.0
    m.skill_power[0, n] = m.skill_range[0, n] = 0.0


def give_skill(env: ContractCombatEnv, n: int, s: int, kind: int, cd: float = 0.0) -> None:
    m = env.monsters
    m.skill_kind[0, n, s] = kind
    m.skill_delay[0, n, s] = 3000.0
    m.skill_cd[0, n, s] = cd
    m.skill_sp[0, n, s] = 10.0
    m.skill_power[0, n, s] = 1.5 if kind == DAMAGE else 0.2
    m.skill_range[0, n, s] = 9.0


def state(env: ContractCombatEnv, n: int = 0) -> np.ndarray:
    out: np.ndarray = encode(env.monsters, env.players, env.world)[0, n].astype(np.float64)
    return out


# --- hand-built situations ------------------------------------------------------------------------


def test_an_aggressive_level_99_mob_chasing_a_player() -> None:
    """Level 99, aggressive, half hp, no SP, chasing a player 3 cells away in a view of 10 by day,
    no master; one damage skill half cooled down; 3 cells from its spawn."""
    env = arena()
    plain_monster(
        env,
        0,
        pos=(10, 10),
        spawn=(7, 10),
        level=99.0,
        hp=2500.0,
        sp=0.0,
        aggressive=True,
        ai_state=RUSH_S,
        target=0,
        started_fight=True,
        walking=True,
        time_alive_ms=150_000.0,
    )
    give_skill(env, 0, 0, DAMAGE, cd=1500.0)
    u, p = env.players.units, env.players
    u.pos[0, 0] = (13, 10)
    u.hp[0, 0], u.max_hp[0, 0], u.atk[0, 0] = 15000.0, 20000.0, 1000.0
    p.level[0, 0] = 80.0
    want = expected(
        {
            "hp_ratio": 0.5, "sp_ratio": 0.0, "level": 98 / 149,
            "mobility": 1 - (150 - 20) / 980, "attack": 500 / 10000, "skills_ready": 0.0,
            "statuses": 0.0, "equipment": 0.0, "archetype": 0.0, "role_confidence": 0.75,
            "hp_ratio_copy": 0.5, "learning_progress": 0.0,
            "cell_type": 0.0, "obstacles": 0.0, "items_near": 0.0, "hazards_near": 0.0,
            "players_in_view": 1 / 20, "monsters_in_view": 0.0, "spawn_distance": 3 / 50,
            "map_danger": 0.0, "daytime": 1.0, "area_control": 0.0,
            "pack_size": 0.0, "pack_cohesion": 0.0, "ally_hp_ratio": 0.5, "has_master": 0.0,
            "formation_quality": 0.0, "communication_load": 0.0, "ally_skills_ready": 0.0,
            "trust": 0.5,
            "enemies_in_view": 1 / 10, "target_distance": 3 / 10,
            "target_threat": 0.5 * 79 / 149 + 0.3 * 1000 / 5000 + 0.2 * 20000 / 100000,
            "damage_taken": 0.3, "target_hp_ratio": 0.75, "target_class": 1.0,
            "target_skill_threat": 79 / 149, "spawn_closeness": 1 - 3 / 20,
            "escape_routes": 1.0, "advantage": 0.3, "started_fight": 1.0, "ai_state": 0.6,
            "hp_lost": 0.5, "cooldown_progress": 0.5, "since_player_near": 0.0,
            "action_success": 0.5, "pattern_recognition": 0.0, "time_alive": 0.5,
            "recent_deaths": 0.0, "hp_full": 0.0, "provoked": 0.5, "momentum": 0.5,
            "primary_goal": 0.7, "secondary_goal": 0.0, "goal_progress": 1 - 3 / 12,
            "hp_urgency": 0.5, "sp_need": 1.0, "risk_tolerance": 0.8, "cooperation": 0.2,
            "exploration": 0.7, "aggression": 0.9, "defense_priority": 0.1,
            "support_priority": 0.0, "adaptation_rate": 0.5,
        }
    )  # fmt: skip
    got = state(env)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert problems(got.tolist()) == []


def test_a_slave_beside_its_master_and_a_slave_with_slaves() -> None:
    """Slot 0 a boss master, slot 1 its slave beside it, slot 2 a slave of slot 1; no player in
    view. The master has slaves but no master (formation 0); slot 1 has both (formation 0.7)."""
    env = arena(3)
    plain_monster(env, 0, pos=(10, 10), boss=True)
    plain_monster(env, 1, pos=(11, 10), master=0, assist=True)
    plain_monster(env, 2, pos=(10, 11), master=1)
    env.players.units.pos[0, 0] = (23, 23)  # 13 cells away: out of view
    master, slave = state(env, 0), state(env, 1)

    def at(vec: np.ndarray, name: str) -> float:
        return float(vec[dimension(name).index])

    for name, m_value, s_value in [
        ("pack_size", 0.0, 0.1),
        ("pack_cohesion", 0.0, 0.8),
        ("has_master", 0.0, 1.0),
        ("formation_quality", 0.0, 0.7),
        ("monsters_in_view", 2 / 30, 2 / 30),
        ("players_in_view", 0.0, 0.0),
        ("area_control", 1.0, 1.0),  # 2 monsters within 10 / (2 + 0 players)
        ("risk_tolerance", 0.7, 0.5),  # 0.5 + 0.2 boss
        ("cooperation", 0.2, 0.8),
        ("secondary_goal", 0.0, 0.3),
        ("support_priority", 0.0, 0.7),
        ("target_distance", 1.0, 1.0),
        ("advantage", 0.5, 0.5),
        ("goal_progress", 0.5, 0.5),
    ]:
        assert at(master, name) == pytest.approx(m_value, abs=1e-6), name
        assert at(slave, name) == pytest.approx(s_value, abs=1e-6), name
    assert at(state(env, 2), "formation_quality") == 0.0
    for n in range(3):
        assert problems(state(env, n).tolist()) == []


def test_a_support_mob_with_heal_skills_idle_at_its_spawn_on_water_by_walls() -> None:
    env = arena()
    plain_monster(
        env, 0, pos=(10, 10), arch=R.SUPPORT, assist=True, no_random_walk=True,
        sp=50.0, max_sp=200.0, walk_speed=200.0, time_alive_ms=400_000.0, since_player_ms=45_000.0,
    )  # fmt: skip
    give_skill(env, 0, 0, HEAL)
    give_skill(env, 0, 1, BLESSING)
    env.players.units.pos[0, 0] = (23, 23)  # 13 cells away: out of view
    w = env.world
    w.cell[0, 10, 10] = WATER
    for x, y in [(9, 9), (7, 7), (13, 13), (7, 13), (12, 8)]:  # five walls in the 7x7, one adjacent
        w.cell[0, x, y] = WALL
    w.refresh_cells()
    w.item_present[0, :3] = True
    w.item_pos[0, :3] = [(12, 12), (15, 10), (16, 10)]  # two within 5 cells
    got = state(env)

    def at(name: str) -> float:
        return float(got[dimension(name).index])

    checks = {
        "cell_type": 2 / 3,
        "obstacles": 5 / 49,
        "escape_routes": 7 / 8,
        "items_near": 2 / 10,
        "sp_ratio": 0.25,
        "sp_need": 0.75,
        "mobility": 1 - (200 - 20) / 980,
        "archetype": 2 / 5,
        "skills_ready": 1.0,
        "ally_skills_ready": 1.0,
        "cooldown_progress": 1.0,
        "hp_full": 1.0,
        "spawn_distance": 0.0,
        "spawn_closeness": 1.0,
        "ai_state": 0.0,
        "primary_goal": 0.0,
        "momentum": 0.1,
        "target_class": 0.0,
        "target_threat": 0.0,
        "damage_taken": 0.0,
        "time_alive": 1.0,
        "since_player_near": 1.0,
        "support_priority": 0.9,
        "exploration": 0.2,
        "aggression": 0.3,
        "defense_priority": 0.7,
        "risk_tolerance": 0.5,
        "players_in_view": 0.0,
        "area_control": 0.5,  # the other monster is 12 cells away, no player in view: none
    }
    for name, value in checks.items():
        assert at(name) == pytest.approx(value, abs=1e-6), name
    assert problems(got.tolist()) == []


def test_risk_drops_under_a_third_of_hp_and_statuses_count() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), hp=1000.0, aggressive=True, boss=True)
    env.monsters.status[0, 0] = [2, 3, 0, 1]  # stunned, poisoned, blind
    got = state(env)
    assert got[dimension("risk_tolerance").index] == pytest.approx(0.5 + 0.3 + 0.2 - 0.4)
    assert got[dimension("statuses").index] == pytest.approx(0.3)
    assert problems(got.tolist()) == []


def test_the_contract_holds_over_random_play() -> None:
    env = ContractCombatEnv(16, seed=3)
    obs = env.reset()
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        obs, _ = env.step(random_policy(obs, rng))
        for e, n in zip(*np.nonzero(obs.agent_mask), strict=True):
            assert problems(obs.local_obs[e, n].tolist()) == [], (e, n)
            checked += 1
    assert checked > 5000


# --- the ten actions ------------------------------------------------------------------------------


def act(env: ContractCombatEnv, action: int) -> None:
    actions = np.full((1, 5), IDLE, np.int64)
    actions[0, 0] = action
    env.step(actions)


def distance(env: ContractCombatEnv) -> float:
    m, u = env.monsters, env.players.units
    return float(np.abs(m.pos[0, 0] - u.pos[0, 0]).max())


def test_attack_in_range_damages_the_target() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), target=0)
    env.players.units.pos[0, 0] = (11, 10)
    before = env.players.units.hp[0, 0]
    act(env, ATTACK)
    lost = before - env.players.units.hp[0, 0]
    assert 400 * 0.9 - 1e-9 <= lost <= 600 * 0.9 + 1e-9  # a roll between atk1 and atk2, armor 0.1


def test_attack_out_of_range_takes_the_nearest_and_moves_closer() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10))
    env.players.units.pos[0, 0] = (15, 10)
    before_hp, before_d = env.players.units.hp[0, 0], distance(env)
    act(env, ATTACK)
    assert env.monsters.target[0, 0] == 0
    assert distance(env) == before_d - 2  # walk speed 150: two cells a step
    assert env.players.units.hp[0, 0] == before_hp
    assert env.monsters.started_fight[0, 0]


def test_move_away_increases_the_distance_by_up_to_five_cells() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), target=0, walk_speed=100.0)
    env.players.units.pos[0, 0] = (14, 10)
    total = 0.0
    for _ in range(3):
        before = distance(env)
        act(env, MOVE_AWAY)
        gained = distance(env) - before
        assert 1 <= gained <= 5
        total += gained
    assert env.monsters.pos[0, 0, 0] < 10


def test_a_skill_on_cooldown_does_nothing_and_is_not_consumed() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), target=0)
    give_skill(env, 0, 0, DAMAGE, cd=1200.0)
    give_skill(env, 0, 1, DAMAGE, cd=0.0)
    env.players.units.pos[0, 0] = (13, 10)
    hp, sp = env.players.units.hp[0, 0], env.monsters.sp[0, 0]
    act(env, SKILL_3)  # a third skill does not exist: the first, which is cooling down
    m = env.monsters
    assert env.players.units.hp[0, 0] == hp
    assert m.skill_cd[0, 0, 0] == 1200.0 - STEP_MS  # it only ticked down
    assert m.skill_cd[0, 0, 1] == 0.0
    assert m.sp[0, 0] >= sp  # no SP spent (it regenerates a little)
    assert not m.casting[0, 0]


def test_a_missing_slot_falls_back_to_slot_0() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), target=0)
    give_skill(env, 0, 0, DAMAGE)  # one skill: SKILL_2 and SKILL_3 name none
    env.players.units.pos[0, 0] = (13, 10)
    hp = env.players.units.hp[0, 0]
    for action in (SKILL_1, SKILL_1 + 1, SKILL_3):
        env.monsters.skill_cd[0, 0, 0] = 0.0
        act(env, action)
        assert env.monsters.skill_cd[0, 0, 0] == 3000.0
        assert env.players.units.hp[0, 0] < hp
        hp = env.players.units.hp[0, 0]
    assert MAX_SKILLS == 3


def test_change_target_with_one_player_in_view_fails() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), target=0)
    env.players.units.pos[0, 0] = (13, 10)
    obs = env._observe()
    assert obs.action_mask[0, 0].all()  # the game server lets it fail: nothing masked
    act(env, CHANGE_TARGET)
    assert env.monsters.target[0, 0] == 0
    assert env._ep["failed"][0] == 1
    masked = ContractCombatEnv(1, seed=0, mask_failing=True)
    masked.world, masked.monsters, masked.players = env.world, env.monsters, env.players
    assert not masked._observe().action_mask[0, 0, CHANGE_TARGET]


def test_flee_drops_the_target_and_walks_home() -> None:
    env = arena()
    plain_monster(env, 0, pos=(10, 10), spawn=(4, 4), target=0)
    env.players.units.pos[0, 0] = (13, 10)
    home = np.abs(env.monsters.pos[0, 0] - env.monsters.spawn[0, 0]).max()
    act(env, FLEE)
    assert env.monsters.target[0, 0] == -1
    assert np.abs(env.monsters.pos[0, 0] - env.monsters.spawn[0, 0]).max() == home - 2


# --- the environment ------------------------------------------------------------------------------


def test_a_seed_fixes_the_trajectory() -> None:
    def run(seed: int) -> list[np.ndarray]:
        env = ContractCombatEnv(8, seed=seed)
        obs = env.reset()
        rng = np.random.default_rng(5)
        out = []
        for _ in range(60):
            obs, res = env.step(random_policy(obs, rng))
            out += [obs.local_obs, obs.global_state, res.agent_rewards]
        return out

    for a, b in zip(run(1), run(1), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(run(1), run(2), strict=True))


def test_defer_is_the_traditional_ai() -> None:
    """The combat action space's eleventh action: a step where every monster DEFERs is the step
    the primitives space takes with the traditional AI's actions (computed from the same world
    with the wandering draw the step makes), so a seed gives the same fight; the share of
    deferred actions is reported."""
    combat = ContractCombatEnv(16, seed=4, action_space="combat")
    plain = ContractCombatEnv(16, seed=4)
    obs_c, obs_p = combat.reset(), plain.reset()
    assert obs_c.action_mask.shape == (16, 5, 11)
    finished = []
    for _ in range(120):
        peek = np.random.default_rng()
        peek.bit_generator.state = plain._rng.bit_generator.state
        peek.uniform(-1.0, 1.0, (16, 5, 2))  # the step's first draw (wandering), then its rolls
        roll = peek.random((16, 5))
        traditional = traditional_actions(plain.monsters, plain.players, obs_p.agent_mask, roll)
        obs_c, res_c = combat.step(np.where(obs_c.agent_mask, DEFER, 0))
        obs_p, res_p = plain.step(traditional)
        np.testing.assert_array_equal(obs_c.local_obs, obs_p.local_obs)
        np.testing.assert_array_equal(res_c.agent_rewards, res_p.agent_rewards)
        if res_c.episodes is not None:
            finished.append(res_c.episodes.extra["deferred_rate"])
    assert finished
    assert all((rate == 1.0).all() for rate in finished)


def test_the_protocol_and_shapes() -> None:
    env = ContractCombatEnv(4, seed=0)
    assert isinstance(env, MultiAgentEnv)
    assert isinstance(env, SupportsPackSize)
    obs = env.reset()
    assert obs.local_obs.shape == (4, 5, 64)
    assert obs.local_obs.dtype == np.float32
    assert obs.signals.shape == (4, 5, 32)
    assert obs.global_state.shape == (4, 5, 64)
    assert obs.action_mask.shape == (4, 5, 10)
    assert (obs.action_mask[~obs.agent_mask] == np.eye(10, dtype=bool)[0]).all()
    assert not obs.local_obs[~obs.agent_mask].any()


def test_mappo_trains_two_updates() -> None:
    t = tiny_contract_trainer({"action_dim": 10})
    history = t.train()
    assert len(history.updates) == 2
    assert all(np.isfinite(v) for r in history.updates for k, v in r.items() if "loss" in k)
    summary = t.evaluate(episodes=4)
    assert 0.0 <= summary["win_rate"] <= 1.0


def test_the_traditional_ai_beats_random_actions() -> None:
    rng = np.random.default_rng(0)
    random_env = ContractCombatEnv(200, seed=77)
    rand = evaluate_policy(lambda o: random_policy(o, rng), random_env)
    trad_env = ContractCombatEnv(200, seed=77)
    trad = evaluate_policy(TraditionalPolicy(trad_env, seed=0), trad_env)
    assert rand["episodes"] == trad["episodes"] == 200
    assert trad["win_rate"] > rand["win_rate"]
    assert trad["kills"] > rand["kills"]
