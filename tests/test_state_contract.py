"""The game server's 64-float state contract: plpython/state_contract.py on the host, and the
database's reading of it (ml.explain_state, ml.state_contract_violations).

The states here are built by `encode` below, written from the contract's table (the issue's, and
docs/state_contract.md) and not from the module: a module that misplaced, misnamed or misjudged a
dimension disagrees with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import errors

from plpython import state_contract as sc
from tests.worker_helpers import gateway_insert

ARCHETYPE_IDS = {"aggressive": 0, "defensive": 1, "support": 2, "mage": 3, "tank": 4, "ranged": 5}
TACTICAL_STATE = {"idle": 0.0, "walk": 0.2, "loot": 0.3, "rush": 0.6, "follow": 0.5}
GOAL_STATE = {"idle": 0.0, "walk": 0.1, "loot": 0.2, "rush": 0.7, "follow": 0.6}


def norm(x: float, a: float, b: float) -> float:
    return min(1.0, max(0.0, (x - a) / (b - a)))


@dataclass
class Target:
    kind: str  # "player" or "monster"
    distance: int
    level: int
    attack: int
    max_hp: int
    hp_ratio: float


@dataclass
class Mob:
    """What the game server knows of a monster, the inputs of the contract's formulas."""

    hp_ratio: float = 1.0
    sp_ratio: float = 1.0
    level: int = 1
    speed_norm: float = 0.5  # norm(walk speed, min, max)
    attack: tuple[int, int] = (0, 0)
    skills: int = 0
    skills_off_cooldown: int = 0
    archetype: str = "aggressive"
    cell_type: int = 0
    unwalkable: int = 0
    players_in_view: int = 0
    monsters_in_view: int = 0
    monsters_within_10: int = 0
    spawn_distance: float = 0.0
    day: bool = True
    has_master: bool = False
    has_slaves: bool = False
    target: Target | None = None
    view: int = 10
    chase_range: int = 12
    aggressive_state: bool = False
    ai_state: str = "idle"
    walkable_neighbours: int = 8
    cooldown_progress: float = 1.0
    ms_since_player: int = 0
    alive_ms: int = 60000
    momentum: float = 0.1  # attacking 0.9, walking 0.5, casting 1.0, else 0.1
    aggressive_mode: bool = False
    assist_mode: bool = False
    heal_skills: bool = False


def encode(m: Mob) -> list[float]:
    """The 64 floats the game server sends for `m`, from the contract's table, group by group."""
    t = m.target
    skills_ready = m.skills_off_cooldown / m.skills if m.skills else 0.0
    own = [
        m.hp_ratio,
        m.sp_ratio,
        norm(m.level, 1, 150),
        1.0 - m.speed_norm,
        norm(sum(m.attack) / 2, 0, 10000),
        skills_ready,
        0.0,
        0.0,
        ARCHETYPE_IDS[m.archetype] / 5,
        0.75,
        m.hp_ratio,
        0.0,
    ]
    around = m.monsters_within_10 + m.players_in_view
    environment = [
        m.cell_type / 3,
        norm(m.unwalkable, 0, 49),
        0.0,
        0.0,
        norm(m.players_in_view, 0, 20),
        norm(m.monsters_in_view, 0, 30),
        norm(m.spawn_distance, 0, 50),
        0.0,
        1.0 if m.day else 0.0,
        m.monsters_within_10 / around if around else 0.5,
    ]
    social = [
        0.1 if m.has_master else 0.0,
        0.8 if m.has_master else 0.0,
        m.hp_ratio,
        1.0 if m.has_master else 0.0,
        0.7 if m.has_master and m.has_slaves else 0.0,
        0.0,
        skills_ready,
        0.5,
    ]
    if t is None:
        threat = 0.0
    elif t.kind == "player":
        threat = (
            0.5 * norm(t.level, 1, 150)
            + 0.3 * norm(t.attack, 0, 5000)
            + 0.2 * norm(t.max_hp, 0, 1e5)
        )
    else:
        threat = 0.4 * norm(t.level, 1, 150) + 0.2 + 0.2 * norm(t.attack, 0, 10000)
    tactical = [
        norm(m.players_in_view, 0, 10),
        1.0 if t is None else t.distance / m.view,
        threat,
        0.3 if t is not None and m.hp_ratio < 1.0 else 0.0,
        0.0 if t is None else t.hp_ratio,
        0.0 if t is None else (1.0 if t.kind == "player" else 0.5),
        0.0 if t is None else (norm(t.level, 1, 150) if t.kind == "player" else 0.3),
        1.0 - norm(m.spawn_distance, 0, 20),
        m.walkable_neighbours / 8,
        0.5 if t is None else (0.7 if m.hp_ratio > t.hp_ratio else 0.3),
        1.0 if m.aggressive_state else 0.0,
        TACTICAL_STATE[m.ai_state],
    ]
    temporal = [
        1.0 - m.hp_ratio,
        m.cooldown_progress,
        norm(m.ms_since_player, 0, 30000),
        m.hp_ratio,
        0.0,
        norm(m.alive_ms, 0, 300000),
        0.0,
        1.0 if m.hp_ratio == 1.0 else 0.0,
        0.5 if m.aggressive_state else 0.0,
        m.momentum,
    ]
    aggression = 0.9 if m.aggressive_mode else 0.3
    risk = 0.5 + (0.3 if m.aggressive_mode else 0.0) - (0.4 if m.hp_ratio < 0.3 else 0.0)
    goals = [
        GOAL_STATE[m.ai_state],
        0.3 if m.assist_mode else 0.0,
        0.5 if t is None else 1.0 - t.distance / m.chase_range,
        1.0 - m.hp_ratio,
        1.0 - m.sp_ratio,
        min(1.0, max(0.0, risk)),
        0.8 if m.assist_mode else 0.2,
        0.7,
        aggression,
        1.0 - aggression,
        0.9 if m.heal_skills else (0.7 if m.assist_mode else 0.0),
        0.5,
    ]
    state = own + environment + social + tactical + temporal + goals
    assert len(state) == 64
    return state


#: A level-99 aggressive mob at half HP, no SP, chasing a player 3 cells away in a view of 10,
#: by day, with no master.
HUNTER = Mob(
    hp_ratio=0.5,
    sp_ratio=0.0,
    level=99,
    attack=(800, 1000),
    skills=2,
    skills_off_cooldown=1,
    players_in_view=1,
    monsters_in_view=2,
    monsters_within_10=2,
    spawn_distance=6.0,
    target=Target("player", distance=3, level=80, attack=1500, max_hp=20000, hp_ratio=0.9),
    aggressive_state=True,
    ai_state="rush",
    ms_since_player=1500,
    momentum=0.5,
    aggressive_mode=True,
)
#: A slave monster beside its master, following it, unhurt, no target.
SLAVE = Mob(level=40, has_master=True, monsters_in_view=3, monsters_within_10=3, ai_state="follow")
#: A support mob with heal skills, idle at its spawn, by night.
HEALER = Mob(
    level=55,
    archetype="support",
    skills=3,
    skills_off_cooldown=3,
    day=False,
    heal_skills=True,
    assist_mode=True,
)
SITUATIONS = {"hunter": HUNTER, "slave": SLAVE, "healer": HEALER}
#: What each situation must read as, by name (a few telling dimensions each).
EXPECTED = {
    "hunter": {
        "hp_ratio": 0.5,
        "sp_ratio": 0.0,
        "level": 98 / 149,
        "archetype": 0.0,
        "target_distance": 0.3,
        "target_class": 1.0,
        "advantage": 0.3,
        "daytime": 1.0,
        "has_master": 0.0,
        "started_fight": 1.0,
        "ai_state": 0.6,
        "hp_lost": 0.5,
        "risk_tolerance": 0.8,
        "goal_progress": 0.75,
    },
    "slave": {
        "pack_size": 0.1,
        "pack_cohesion": 0.8,
        "has_master": 1.0,
        "formation_quality": 0.0,
        "ai_state": 0.5,
        "primary_goal": 0.6,
        "target_distance": 1.0,
        "hp_full": 1.0,
    },
    "healer": {
        "archetype": 0.4,
        "skills_ready": 1.0,
        "ally_skills_ready": 1.0,
        "daytime": 0.0,
        "support_priority": 0.9,
        "cooperation": 0.8,
        "spawn_closeness": 1.0,
        "ai_state": 0.0,
        "role_confidence": 0.75,
    },
}


def broken_state() -> tuple[list[float], dict[str, str]]:
    """The hunter with four faults, and the kind of problem each dimension must show."""
    state = encode(HUNTER)
    state[3] = 1.3  # mobility
    state[18] = math.nan  # spawn_distance
    state[9] = 0.5  # role_confidence, always 0.75
    state[8] = 0.33  # archetype: not id / 5
    return state, {
        "mobility": "outside [0, 1]",
        "spawn_distance": "not finite",
        "role_confidence": "always sends 0.75",
        "archetype": "not one of its levels",
    }


# --- the module, on the host -------------------------------------------------------------------


def test_groups_cover_the_64_dims_in_order_and_every_dim_is_named_once() -> None:
    assert sc.STATE_DIM == 64
    assert [(g.name, g.first, g.last) for g in sc.GROUPS] == [
        ("self", 0, 11),
        ("environment", 12, 21),
        ("social", 22, 29),
        ("tactical", 30, 41),
        ("temporal", 42, 51),
        ("goals", 52, 63),
    ]
    assert [g.size for g in sc.GROUPS] == [12, 10, 8, 12, 10, 12]
    assert sum(g.size for g in sc.GROUPS) == 64
    assert [d.index for d in sc.DIMENSIONS] == list(range(64))
    for group in sc.GROUPS:
        assert {d.group for d in sc.DIMENSIONS[group.first : group.last + 1]} == {group.name}
    names = [d.name for d in sc.DIMENSIONS]
    assert len(set(names)) == 64
    assert all(name.isidentifier() and name == name.lower() for name in names)


def test_rules_as_the_table_gives_them() -> None:
    constants = {d.index: d.constant for d in sc.DIMENSIONS if d.constant is not None}
    assert constants == {7: 0, 9: 0.75, 11: 0, 27: 0, 29: 0.5, 46: 0, 48: 0, 63: 0.5}
    copies = {d.index: d.copy_of for d in sc.DIMENSIONS if d.copy_of is not None}
    assert copies == {10: 0, 24: 0, 28: 5, 45: 0}
    complements = {d.index: d.complement_of for d in sc.DIMENSIONS if d.complement_of is not None}
    assert complements == {42: 0, 55: 0, 56: 1, 61: 60}
    assert sc.dimension("archetype").levels == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert sc.ARCHETYPES == ("aggressive", "defensive", "support", "mage", "tank", "ranged")
    assert sc.DIMENSIONS[41].levels == pytest.approx([0, 0.2, 0.3, 0.5, 0.6, 0.8, 0.9])
    assert sc.DIMENSIONS[52].levels == pytest.approx([0, 0.1, 0.2, 0.5, 0.6, 0.7, 0.9, 1.0])
    # Levels are kept sorted: the check looks at a value's two neighbours only.
    for spec in sc.DIMENSIONS:
        assert spec.levels is None or list(spec.levels) == sorted(spec.levels), spec.name
        assert (spec.low, spec.high) == (0.0, 1.0)


def test_the_ten_actions_and_the_traditional_ai() -> None:
    assert [(a.id, a.name) for a in sc.ACTIONS] == [
        (0, "IDLE"),
        (1, "ATTACK"),
        (2, "MOVE_CLOSER"),
        (3, "MOVE_AWAY"),
        (4, "MOVE_RANDOM"),
        (5, "SKILL_1"),
        (6, "SKILL_2"),
        (7, "SKILL_3"),
        (8, "CHANGE_TARGET"),
        (9, "FLEE"),
    ]
    assert sc.TRADITIONAL_AI == 255
    assert "spawn" in sc.ACTIONS[9].semantics
    assert "cooldown" in sc.ACTIONS[5].semantics


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_situations_keep_the_contract_on_the_host(situation: str) -> None:
    state = encode(SITUATIONS[situation])
    assert sc.violations(state) == []
    by_name = {row.name: row for row in sc.explain(state)}
    for name, value in EXPECTED[situation].items():
        assert by_name[name].value == pytest.approx(value), name
        assert by_name[name].problem is None


def test_each_fault_is_named_on_the_host() -> None:
    state, faults = broken_state()
    rows = {row.name: row for row in sc.explain(state)}
    for name, words in faults.items():
        problem = rows[name].problem
        assert problem is not None, name
        assert words in problem, (name, problem)
    assert {name for name, row in rows.items() if row.problem} == set(faults)
    kinds = {(p.dim, p.kind) for p in sc.problems(state)}
    assert kinds == {(3, "out_of_range"), (18, "not_finite"), (9, "constant"), (8, "level")}
    assert len(sc.violations(state)) == 4


def test_copies_complements_and_relations_are_checked() -> None:
    state = encode(HUNTER)
    state[10] = 0.4  # a copy of hp_ratio (0.5)
    state[61] = 0.5  # 1 - aggression (0.9)
    state[22] = 0.1  # says it has a master, has_master says not
    state[57] = 0.4  # risk of a wounded monster, at half hp
    assert {(p.dim, p.kind) for p in sc.problems(state)} == {
        (10, "copy"),
        (61, "complement"),
        (22, "relation"),
        (57, "relation"),
    }


def test_a_state_of_another_shape() -> None:
    with pytest.raises(sc.StateShapeError, match="got 63") as short:
        sc.explain([0.0] * 63)
    assert short.value.sqlstate == "ML004"
    with pytest.raises(sc.StateDimensionsError) as nested:
        sc.explain([[0.0] * 32, [0.0] * 32])
    assert nested.value.sqlstate == "ML008"
    assert sc.problems(None) == [sc.Problem(None, "shape", "state must be 64 numbers, got null")]
    assert sc.violations([0.5] * 65) == ["state must be 64 numbers, got 65"]
    nulls = encode(HEALER)
    nulls[5] = None  # type: ignore[call-overload]
    assert [(p.dim, p.kind) for p in sc.problems(nulls)] == [(5, "not_a_number")]


# --- the database ------------------------------------------------------------------------------

EXPLAIN = "SELECT dim, grp, name, value, meaning, problem FROM ml.explain_state(%s::real[])"


def explained(conn: psycopg.Connection[Any], state: Any) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(EXPLAIN, (state,)).fetchall()
    assert [r[0] for r in rows] == list(range(64))
    return {r[2]: r for r in rows}


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_explain_state_decodes_each_situation_for_the_game_server(
    game_url: str, situation: str
) -> None:
    with psycopg.connect(game_url, autocommit=True) as game:
        rows = explained(game, encode(SITUATIONS[situation]))
    assert [name for name, row in rows.items() if row[5] is not None] == []
    for name, value in EXPECTED[situation].items():
        assert rows[name][3] == pytest.approx(value, abs=1e-6), name
    assert rows["hp_ratio"][1:3] == ("self", "hp_ratio")
    assert rows["role_confidence"][0] == 9
    assert "0.75" in rows["role_confidence"][4]


def test_explain_state_names_each_problem(game_url: str) -> None:
    state, faults = broken_state()
    with psycopg.connect(game_url, autocommit=True) as game:
        rows = explained(game, state)
    assert {name for name, row in rows.items() if row[5] is not None} == set(faults)
    for name, words in faults.items():
        assert words in rows[name][5], (name, rows[name][5])
    assert math.isnan(rows["spawn_distance"][3])


@pytest.mark.parametrize(
    ("state", "sqlstate", "words"),
    [
        pytest.param([0.5] * 63, "ML004", "got 63", id="63-long"),
        pytest.param([0.5] * 65, "ML004", "got 65", id="65-long"),
        pytest.param([], "ML004", "got 0", id="empty"),
        pytest.param(None, "ML004", "got null", id="null"),
        pytest.param([[0.5] * 32, [0.5] * 32], "ML008", "2 dimensions", id="2-d"),
    ],
)
def test_explain_state_refuses_other_shapes_with_their_sqlstates(
    game_url: str, state: Any, sqlstate: str, words: str
) -> None:
    # ML004: not 64 numbers (the code of every state-taking function); ML008: an array of more
    # than one dimension, even one of 64 numbers. Refused from the array's header.
    with psycopg.connect(game_url, autocommit=True) as game:
        with pytest.raises(psycopg.Error, match=words) as refused:
            game.execute(EXPLAIN, (state,))
        assert refused.value.sqlstate == sqlstate


def test_violations_view_counts_the_gateways_broken_requests(
    game_url: str, worker_url: str
) -> None:
    state, faults = broken_state()
    with psycopg.connect(game_url, autocommit=True) as game:
        gateway_insert(game, 1001, encode(HUNTER))
        broken = gateway_insert(game, 1002, state)
        short = gateway_insert(game, 1003, encode(SLAVE)[:63])
        # The game server's role reads no diagnostics view.
        with pytest.raises(errors.InsufficientPrivilege):
            game.execute("SELECT * FROM ml.state_contract_violations")
    with psycopg.connect(worker_url, autocommit=True) as worker:
        rows = worker.execute(
            "SELECT dim, name, kind, requests, requests_checked, last_request_id, example "
            "FROM ml.state_contract_violations"
        ).fetchall()
    by_name = {r[1]: r for r in rows}
    assert by_name["any"][2:6] == ("any", 2, 3, short)
    assert set(by_name) == {"any", "state", *faults}
    assert by_name["state"][2:4] == ("shape", 1)
    assert by_name["state"][5] == short
    assert by_name["role_confidence"][:4] == (9, "role_confidence", "constant", 1)
    assert by_name["role_confidence"][5] == broken
    assert by_name["archetype"][2] == "level"
    assert "0.33" in by_name["archetype"][6]
    assert by_name["spawn_distance"][2] == "not_finite"


def test_the_database_runs_the_modules_own_source(admin: psycopg.Connection[Any]) -> None:
    row = admin.execute(
        "SELECT source FROM ml.plpython_modules WHERE name = 'state_contract'"
    ).fetchone()
    assert row is not None
    with open(sc.__file__, encoding="utf-8") as source:
        assert row[0] == source.read()
