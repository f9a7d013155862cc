"""Every argument of the game server's API has a documented limit (docs/coordination.md, "Limits"),
checked before any work: arrays of the wrong dimensions (ML008), a null monster id (22004), calls
over a size limit of config section `limits` (ML009), numbers that are not finite or plausible
(ML003, ML002, 22023), and states nested too deep (ML004). Each test sends one class of bad input
as the game server's role and checks the SQLSTATE, that the message quotes no whole input, and
that the database is exactly as it was before the call."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from models.config import load_config
from tests.coordination_helpers import PACK, monster, sync

LIMITS = load_config().limits
STATE = [0.25] * 64
IDS = [1001, 1002, 1003]

RECORD = (
    "SELECT ml.record_pack_episode(%s, %s::integer[], %s, %s::real[], %s::real[], "
    "%s::integer[], %s::real[], %s::real[], %s::real[], %s::real)"
)
TYPED_SYNC = (
    "SELECT ml.sync_monsters(%s::integer[], %s::integer[], %s::text[], %s::integer[], "
    "%s::integer[], %s::integer[], %s::float8[], %s::float8[], %s::real[])"
)
TYPED_REQUEST = "SELECT ml.request_pack_actions(%s::integer[], %s::text[], %s::real[], %s)"
PACKED_REQUEST = "SELECT ml.request_pack_actions_packed(%s::integer[], %s::text[], %s::bytea)"
JSON_REQUEST = "SELECT ml.request_pack_actions(%s::jsonb)"
JSON_SYNC = "SELECT ml.sync_monsters(%s::jsonb)"


def states(n: int) -> list[list[float]]:
    """n x 64 states, each its own list (psycopg refuses a list that repeats one object)."""
    return [list(STATE) for _ in range(n)]


def episode(steps: int = 3, n: int = 2, **changes: Any) -> list[Any]:
    """ml.record_pack_episode's arguments for a valid episode, with `changes` by name."""
    rng = np.random.default_rng(steps)
    args = {
        "pack_id": 77,
        "monster_ids": list(range(100, 100 + n)),
        "outcome": "victory",
        "global_states": rng.standard_normal((steps, n, 64)).tolist(),
        "local_obs": rng.standard_normal((steps, n, 64)).tolist(),
        "actions": rng.integers(0, 7, (steps, n)).tolist(),
        "team_rewards": rng.standard_normal(steps).tolist(),
        "individual_rewards": rng.standard_normal((steps, n)).tolist(),
        "signals": rng.random((steps, n, 32)).tolist(),
        "coordination_score": 0.5,
    }
    args.update(changes)
    return list(args.values())


def typed_sync(ids: list[Any], **changes: Any) -> tuple[Any, ...]:
    """ml.sync_monsters' typed arguments for `ids` (on map 1, in a row), with `changes` by name."""
    n = len(ids)
    args = {
        "ids": ids,
        "mob_ids": [1002] * n,
        "archetypes": ["tank"] * n,
        "map_ids": [1] * n,
        "xs": [10 + i % 100 for i in range(n)],
        "ys": [10 + i // 100 for i in range(n)],
        "hp_ratios": [1.0] * n,
        "leadership_scores": [0.5] * n,
        "states": STATE * n,
    }
    args.update(changes)
    return tuple(args.values())


def request(ids: list[Any], state: Any = STATE, **extra: Any) -> str:
    monsters = [{"id": i, "archetype": "tank", "state": state} for i in ids]
    return json.dumps({"monsters": monsters, **extra})


def snapshot(admin: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Everything a call of the API may write, as comparable values."""
    row = admin.execute(
        "SELECT (SELECT md5(coalesce(string_agg(m::text, '|' ORDER BY m.id), ''))"
        "        FROM ml.monsters m),"
        "       (SELECT md5(coalesce(string_agg(p::text, '|' ORDER BY p.map_id), ''))"
        "        FROM ml.pack_maps p),"
        "       (SELECT md5(coalesce(string_agg(e.id::text"
        "                                       || ag_catalog.agtype_out(e.properties)::text,"
        "                                       '|' ORDER BY e.id), ''))"
        "        FROM monster_ai._ag_label_edge e),"
        '       (SELECT count(*) FROM monster_ai."Monster"),'
        "       (SELECT count(*) FROM ml.inference_jobs),"
        "       (SELECT count(*) FROM ml.ml_coordination_logs),"
        "       (SELECT count(*) FROM ml.ml_pack_episodes)"
    ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def world(admin: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The admin connection, with a pack on map 1 (1001 leads 1002 and 1003; 2001 alone), a live
    signal, a recorded episode and a queued decision: something every bad call could damage."""
    sync(admin, *PACK)
    admin.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002, 1003])")
    admin.execute(RECORD, episode(pack_id=1))
    admin.execute(TYPED_REQUEST, (IDS, ["tank"] * 3, states(3), 5))
    return admin


@pytest.fixture
def game(game_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def set_limit(admin: psycopg.Connection[Any], name: str, value: float) -> None:
    """An operator's change of a limit (applies to the next call)."""
    admin.execute(
        "UPDATE ml.config SET value = %s, updated_at = now() WHERE key = %s",
        (Jsonb(value), f"limits.{name}"),
    )


def refused(
    game: psycopg.Connection[Any],
    admin: psycopg.Connection[Any],
    statement: str,
    params: Any,
    sqlstate: str,
) -> str:
    """Make the call as the game server; it must raise `sqlstate` and write nothing. Returns the
    error's message (primary text), which must not echo a long input."""
    before = snapshot(admin)
    with pytest.raises(psycopg.Error) as raised:
        game.execute(statement.encode(), params)
    assert raised.value.sqlstate == sqlstate, str(raised.value)
    assert snapshot(admin) == before
    message = raised.value.diag.message_primary or ""
    assert len(message) < 300, message
    return message


def test_limits_in_the_database_are_the_yaml_limits(admin: psycopg.Connection[Any]) -> None:
    rows = dict(admin.execute("SELECT key, value FROM ml.config WHERE key LIKE 'limits.%'"))
    assert rows == {f"limits.{k}": v for k, v in dataclasses.asdict(LIMITS).items()}


TWO_DIMENSIONAL = [
    pytest.param(TYPED_SYNC, typed_sync([[1, 2]], states=STATE * 2), "ids", id="sync-ids"),
    pytest.param(TYPED_SYNC, typed_sync([1, 2], xs=[[1, 2]]), "xs", id="sync-xs"),
    pytest.param("SELECT ml.form_packs(%s::integer[])", ([[1]],), "map_ids", id="form-packs"),
    pytest.param(
        "SELECT * FROM ml.detect_pack_formation(%s::integer[])",
        ([[1001, 1002]],),
        "monster_ids",
        id="detect-pack-formation",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '{}', %s::integer[])",
        ([[1002, 1003]],),
        "pack_monsters",
        id="broadcast-signal",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 0.5, %s::integer[])",
        ([[1002]],),
        "pack_monsters",
        id="sender",
    ),
    pytest.param(
        "SELECT ml.signal_vectors(%s::integer[])", ([[1001]],), "monster_ids", id="signal-vectors"
    ),
    pytest.param(
        "SELECT * FROM ml.coordination_score(%s::integer[], %s::integer[])",
        ([[1001, 1002]], [1, 2]),
        "monster_ids",
        id="coordination-score-ids",
    ),
    pytest.param(
        "SELECT * FROM ml.coordination_score(%s::integer[], %s::integer[])",
        ([1001, 1002], [[1, 2]]),
        "actions",
        id="coordination-score-actions",
    ),
    pytest.param(
        TYPED_REQUEST,
        ([[1001, 1002]], ["tank"] * 2, states(2), 5),
        "monster_ids",
        id="request-ids",
    ),
    pytest.param(
        TYPED_REQUEST,
        ([1001, 1002], [["tank", "tank"]], states(2), 5),
        "archetypes",
        id="request-archetypes",
    ),
    pytest.param(
        PACKED_REQUEST,
        ([[1001, 1002]], ["tank"] * 2, bytes(512)),
        "monster_ids",
        id="packed-request-ids",
    ),
    pytest.param(RECORD, episode(monster_ids=[[100, 101]]), "monster_ids", id="episode-ids"),
    pytest.param(
        RECORD, episode(team_rewards=[[0.0, 0.0, 0.0]]), "team_rewards", id="episode-rewards"
    ),
    pytest.param(
        "SELECT ml.decision_json(1, 'done', NULL, %s::integer[], %s::smallint[], NULL, NULL, "
        "NULL, NULL, NULL, NULL)",
        ([[1001]], [[1]]),
        "monster_ids",
        id="decision-json",
    ),
]


@pytest.mark.parametrize(("statement", "params", "argument"), TWO_DIMENSIONAL)
def test_two_dimensional_arrays_are_refused_with_ml008(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    params: Any,
    argument: str,
) -> None:
    """Before: a two-dimensional monster_ids was flattened by cardinality() and <@, and queued a
    job the worker died on."""
    assert argument in refused(game, world, statement, params, "ML008")


NULL_IDS = [
    pytest.param(TYPED_REQUEST, ([None], ["tank"], states(1), 5), id="request"),
    pytest.param(TYPED_REQUEST, ([1001, None], ["tank"] * 2, states(2), 5), id="request-2nd"),
    pytest.param(PACKED_REQUEST, ([None], ["tank"], bytes(256)), id="packed-request"),
    pytest.param(TYPED_SYNC, typed_sync([None]), id="sync"),
    pytest.param(
        "SELECT * FROM ml.detect_pack_formation(%s::integer[])",
        ([1001, None],),
        id="detect-pack-formation",
    ),
    pytest.param("SELECT ml.signal_vectors(%s::integer[])", ([None],), id="signal-vectors"),
    pytest.param(
        "SELECT * FROM ml.coordination_score(%s::integer[], %s::integer[])",
        ([None], [1]),
        id="coordination-score",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 0.5, %s::integer[])",
        ([1002, None, 4242],),
        id="pack-monsters",
    ),
    pytest.param(RECORD, episode(monster_ids=[100, None]), id="episode"),
]


@pytest.mark.parametrize(("statement", "params"), NULL_IDS)
def test_null_monster_ids_are_refused_with_22004(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any], statement: str, params: Any
) -> None:
    """Before: ARRAY[NULL] as a request's monster ids said 'a monster appears twice' (23505)."""
    message = refused(game, world, statement, params, "22004")
    assert "null" in message.lower()
    assert "twice" not in message


def over(limit: int) -> list[int]:
    """Distinct ids, one more than `limit`."""
    return list(range(1, limit + 2))


COUNTS = [
    pytest.param(
        TYPED_SYNC, typed_sync(over(LIMITS.sync_monsters)), "ids has", id="typed-sync-2049"
    ),
    pytest.param(
        JSON_SYNC,
        (json.dumps([{"id": i} for i in over(LIMITS.sync_monsters)]),),
        "monsters has",
        id="json-sync-2049",
    ),
    pytest.param(
        TYPED_REQUEST,
        (over(LIMITS.request_monsters), ["tank"] * (LIMITS.request_monsters + 1), None, 5),
        "monster_ids has",
        id="typed-request-1025",
    ),
    pytest.param(
        PACKED_REQUEST,
        (over(LIMITS.request_monsters), ["tank"] * (LIMITS.request_monsters + 1), b""),
        "monster_ids has",
        id="packed-request-1025",
    ),
    pytest.param(
        JSON_REQUEST,
        (json.dumps({"monsters": [{"id": i} for i in over(LIMITS.request_monsters)]}),),
        "request has",
        id="json-request-1025",
    ),
    pytest.param(
        "SELECT * FROM ml.detect_pack_formation(%s::integer[])",
        (over(LIMITS.request_monsters),),
        "monster_ids has",
        id="detect-pack-formation-1025",
    ),
    pytest.param(
        "SELECT ml.signal_vectors(%s::integer[])",
        (over(LIMITS.request_monsters),),
        "monster_ids has",
        id="signal-vectors-1025",
    ),
    pytest.param(
        "SELECT * FROM ml.coordination_score(ARRAY(SELECT generate_series(1, 1000000)), "
        "ARRAY(SELECT generate_series(1, 1000000)))",
        None,
        "monster_ids has 1000000",
        id="coordination-score-million",
    ),
    pytest.param(
        "SELECT ml.form_packs(ARRAY(SELECT generate_series(1, 1000000)))",
        None,
        "map_ids has 1000000",
        id="form-packs-million",
    ),
    pytest.param(
        "SELECT ml.form_packs(%s::integer[])",
        (over(LIMITS.form_packs_maps),),
        "map_ids has",
        id="form-packs-4097",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '{}', %s::integer[])",
        (over(LIMITS.signal_receivers),),
        "pack_monsters has",
        id="pack-monsters-65",
    ),
]


@pytest.mark.parametrize(("statement", "params", "says"), COUNTS)
def test_calls_over_their_count_limit_are_refused_with_ml009(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    params: Any,
    says: str,
) -> None:
    """Refused by their size alone, before anything is parsed, locked or looked up (a million
    map ids took a lock each and exhausted the lock table; coordination_score of a million ran
    37 s; 10,000 spawns on one map 5.3 s)."""
    assert says in refused(game, world, statement, params, "ML009")


def test_calls_at_their_limits_are_accepted(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    ids = list(range(1, LIMITS.sync_monsters + 1))
    synced = game.execute(TYPED_SYNC, typed_sync(ids)).fetchone()
    assert synced == (LIMITS.sync_monsters,)
    batch = ids[: LIMITS.request_monsters]
    game.execute(TYPED_REQUEST, (batch, ["tank"] * len(batch), states(len(batch)), 5))
    receivers = ids[1 : LIMITS.signal_receivers + 1]
    sent = game.execute("SELECT ml.broadcast_signal(1, 'retreat', '{}', %s)", (receivers,))
    assert sent.fetchone() == (LIMITS.signal_receivers,)
    assert game.execute("SELECT ml.form_packs(%s)", (ids,)).fetchone() is not None


def test_json_documents_over_their_byte_limit_are_refused_with_ml009(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    set_limit(world, "json_bytes", 100_000)
    big = [0.123456789] * 64
    sync_doc = json.dumps([monster(i, 10, 10, state=big) for i in range(1, 201)])
    assert "bytes of jsonb" in refused(game, world, JSON_SYNC, (sync_doc,), "ML009")
    request_doc = request(list(range(1, 201)), state=big)
    assert "bytes of jsonb" in refused(game, world, JSON_REQUEST, (request_doc,), "ML009")


SIGNAL_CONTENTS = [
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', %s, ARRAY[1002])",
        (Jsonb({"reason": "x" * 5000}),),
        "5014 bytes",
        id="broadcast-5kb",
    ),
    pytest.param(
        "SELECT ml.send_retreat_signal(1001, 10, 10, %s, ARRAY[1002])",
        ("x" * 2000,),
        "bytes of JSON",
        id="retreat-reason",
    ),
    pytest.param(
        "SELECT ml.send_formation_command(1001, 'flanking', %s, ARRAY[1002])",
        (Jsonb({str(i): [1, 1] for i in range(100, 300)}),),
        "bytes of JSON",
        id="formation-positions",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', %s, ARRAY[1002])",
        (Jsonb({"a": json.loads("[" * 8 + "1" + "]" * 8)}),),
        "more than 8 levels",
        id="nine-levels",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', %s::jsonb)",
        ('{"reason": ' + "[" * 500 + "]" * 500 + "}",),
        "more than 8 levels",
        id="five-hundred-levels",
    ),
]


@pytest.mark.parametrize(("statement", "params", "says"), SIGNAL_CONTENTS)
def test_signal_contents_over_their_limits_are_refused_with_ml009(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    params: Any,
    says: str,
) -> None:
    """A signal's content is copied onto every receiver's edge: a 5 KB broadcast to 9,999
    receivers grew SIGNALS from 312 kB to 58 MB."""
    assert says in refused(game, world, statement, params, "ML009")


def test_signal_content_at_its_limits_is_accepted(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    positions = {"1002": [145, 195], "1003": [155, 205]}
    sent = game.execute(
        "SELECT ml.send_formation_command(1001, 'flanking', %s, ARRAY[1002, 1003])",
        (Jsonb(positions),),
    )
    assert sent.fetchone() == (2,)
    deep = json.loads("[" * 7 + "1" + "]" * 7)  # the 1 is 8 levels down, with its field
    # PostgreSQL prints it as json.dumps does: exactly signal_content_bytes bytes.
    reason = "x" * (LIMITS.signal_content_bytes - len(json.dumps({"a": deep, "reason": ""})))
    content = Jsonb({"a": deep, "reason": reason})
    sent = game.execute("SELECT ml.broadcast_signal(1001, 'retreat', %s, ARRAY[1002])", (content,))
    assert sent.fetchone() == (1,)


def test_a_broadcast_by_range_reaches_the_nearest_receivers_within_the_limit(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    sync(world, *(monster(3000 + d, 100 + d, 100, map_id=9) for d in range(6)))
    set_limit(world, "signal_receivers", 3)
    sent = game.execute("SELECT ml.broadcast_signal(3000, 'retreat', '{}')").fetchone()
    assert sent == (3,)
    rows = world.execute(
        "SELECT to_monster_ids FROM ml.ml_coordination_logs WHERE from_monster_id = 3000"
    ).fetchall()
    assert rows == [([3001, 3002, 3003],)]


def test_form_packs_locks_only_the_maps_that_exist(
    world: psycopg.Connection[Any], game_url: str
) -> None:
    """Map 1 has monsters; maps 2-4096 do not: one formation lock, not 4,096."""
    with psycopg.connect(game_url) as game:
        packs = game.execute("SELECT ml.form_packs(ARRAY(SELECT generate_series(1, 4096)))")
        assert packs.fetchone() == (1,)
        locks = game.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchone()
        assert locks == (1,)
        game.rollback()


def test_episodes_over_their_step_limit_are_refused_with_ml009(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    """A 10,000-step episode made a ~32 MB row."""
    set_limit(world, "episode_steps", 3)
    game.execute(RECORD, episode(steps=3, pack_id=2))
    world.execute("DELETE FROM ml.ml_pack_episodes WHERE pack_id = 2")
    message = refused(game, world, RECORD, episode(steps=4), "ML009")
    assert "at most 3 steps" in message
    wide = episode(steps=2, n=2, local_obs=np.zeros((1, 2, 64 * 200)).tolist())
    assert "local_obs holds" in refused(game, world, RECORD, wide, "ML009")


REWARDS = [
    pytest.param({"team_rewards": [0.0, 3e38, 0.0]}, "team_rewards", id="team-3e38"),
    pytest.param(
        {"individual_rewards": [[0.0, 0.0], [-2e6, 0.0], [0.0, 0.0]]},
        "individual_rewards",
        id="individual-minus-2e6",
    ),
    pytest.param({"team_rewards": [0.0, float("inf"), 0.0]}, "team_rewards", id="infinity"),
]


@pytest.mark.parametrize(("changes", "argument"), REWARDS)
def test_implausible_episode_rewards_are_refused_with_22023(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    changes: dict[str, Any],
    argument: str,
) -> None:
    """A team reward of 3e38 was stored (and the episode's total overflowed a real)."""
    message = refused(game, world, RECORD, episode(**changes), "22023")
    assert f"{argument} must be finite and within" in message


OUT_OF_RANGE = [
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'attack_target', %s::jsonb, ARRAY[1002])",
        ('{"threat": 1e400}',),
        "threat",
        id="threat-1e400",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'help_request', %s::jsonb, ARRAY[1002])",
        ('{"urgency": 0.5, "hp_ratio": -1e400}',),
        "hp_ratio",
        id="hp-ratio-minus-1e400",
    ),
    pytest.param(
        "SELECT ml.send_retreat_signal(1001, 10, 99999, NULL, ARRAY[1002])",
        None,
        "rally_point",
        id="rally-point",
    ),
    pytest.param(
        "SELECT ml.send_help_request(1002, 0.5, 0.5, -1, 10, ARRAY[1001])",
        None,
        "position",
        id="position",
    ),
    pytest.param(
        "SELECT ml.send_formation_command(1001, 'flanking', %s, ARRAY[1002])",
        (Jsonb({"1002": [40000, 1]}),),
        "positions[1002]",
        id="formation-position",
    ),
]


@pytest.mark.parametrize(("statement", "params", "field"), OUT_OF_RANGE)
def test_numbers_out_of_range_are_refused_with_ml003(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    params: Any,
    field: str,
) -> None:
    """Before: a threat of 1e400 failed inside PL/Python with 38000 (OverflowError)."""
    assert field in refused(game, world, statement, params, "ML003")


PRIORITIES = [
    pytest.param(1e10, id="1e10"),
    pytest.param("abc", id="text"),
    pytest.param(5.5, id="fraction"),
    pytest.param(True, id="boolean"),
    pytest.param([5], id="array"),
    pytest.param(11, id="eleven"),
    pytest.param(-1, id="negative"),
]


@pytest.mark.parametrize("priority", PRIORITIES)
def test_bad_request_priorities_are_refused_with_ml002(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any], priority: Any
) -> None:
    """Before: 1e10 gave 22003 and "abc" or 5.5 gave 22P02."""
    message = refused(game, world, JSON_REQUEST, (request(IDS, priority=priority),), "ML002")
    assert "priority must be" in message


def nested(levels: int) -> str:
    """A state as JSON text, `levels` arrays deep (too deep for Python's own JSON encoder)."""
    return "[" * levels + "1" + "]" * levels


NESTED_STATES = [
    pytest.param(
        JSON_REQUEST, lambda s: request(IDS, state="STATE").replace('"STATE"', s), id="request"
    ),
    pytest.param(
        JSON_SYNC,
        lambda s: json.dumps(
            [monster(1001, 100, 100, 0.9), {**monster(5, 1, 1), "state": "STATE"}]
        ).replace('"STATE"', s),
        id="sync",
    ),
]


@pytest.mark.parametrize("levels", [7, 5000])
@pytest.mark.parametrize(("statement", "document"), NESTED_STATES)
def test_deeply_nested_states_are_refused_with_ml004(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    document: Any,
    levels: int,
) -> None:
    """Before: PostgreSQL's array limit answered first (54000, 'number of array dimensions')."""
    message = refused(game, world, statement, (document(nested(levels)),), "ML004")
    assert "state" in message


def test_finite_numbers_too_small_for_a_float32_are_taken_as_zero(
    world: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    """Before: 1e-50 in a state was refused as not finite (PostgreSQL's real input rejects it as
    out of range); a game server's float32 holds it as 0, and so does the database now."""
    state: list[Any] = [1e-50, -1e-50, 1e-40, "1e-60"] + [0.5] * 60
    synced = game.execute(JSON_SYNC, (json.dumps([monster(7, 1, 1, state=state)]),)).fetchone()
    assert synced == (1,)
    stored = world.execute("SELECT state[1:3] FROM ml.monsters WHERE id = 7").fetchone()
    assert stored is not None
    assert stored[0][:2] == [0.0, 0.0]
    assert stored[0][2] == pytest.approx(1e-40, rel=1e-2)
    job = game.execute(JSON_REQUEST, (request([7, 1001], state=state),)).fetchone()
    assert job is not None
    states = world.execute(
        "SELECT states[1:2][1:4] FROM ml.inference_jobs WHERE id = %s", job
    ).fetchone()
    assert states is not None
    assert states[0][1][:2] == [0.0, 0.0]
    assert states[0][1][3] == 0.0


LONG = "x" * 100_000
LONG_VALUES = [
    pytest.param(
        JSON_SYNC, (json.dumps([monster(5, 1, 1, archetype=LONG)]),), "22P02", id="sync-archetype"
    ),
    pytest.param(
        JSON_SYNC,
        (json.dumps([monster(5, 1, 1)]).replace('"hp_ratio": 1.0', '"hp_ratio": 1' + "0" * 999),),
        "ML003",
        id="sync-hp-ratio",
    ),
    pytest.param(
        TYPED_SYNC, typed_sync([5], archetypes=[LONG]), "22P02", id="typed-sync-archetype"
    ),
    pytest.param(
        TYPED_REQUEST, ([1001], [LONG], states(1), 5), "22P02", id="typed-request-archetype"
    ),
    pytest.param(
        JSON_REQUEST,
        (json.dumps({"monsters": [{"id": 1001, "archetype": LONG, "state": STATE}]}),),
        "22P02",
        id="json-request-archetype",
    ),
    pytest.param(JSON_REQUEST, (request(IDS, priority=LONG),), "ML002", id="json-priority"),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, %s, '{}', ARRAY[1002])", (LONG,), "ML001", id="type"
    ),
    pytest.param(
        "SELECT ml.send_formation_command(1001, %s, NULL, ARRAY[1002])",
        ("y" * 900,),
        "ML007",
        id="formation-type",
    ),
    pytest.param(RECORD, episode(outcome=LONG), "22023", id="episode-outcome"),
]


@pytest.mark.parametrize(("statement", "params", "sqlstate"), LONG_VALUES)
def test_error_messages_quote_long_values_abbreviated(
    world: psycopg.Connection[Any],
    game: psycopg.Connection[Any],
    statement: str,
    params: Any,
    sqlstate: str,
) -> None:
    """Before: a message echoed the whole value (a 100,000-character archetype, a 1,000-digit
    hp_ratio)."""
    assert "characters)" in refused(game, world, statement, params, sqlstate)
