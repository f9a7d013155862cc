"""ml.sync_monsters and ml.despawn_monster: fast state in ml.monsters, a correct Monster vertex,
and bad input refused whole, each case with its own SQLSTATE."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from tests.coordination_helpers import PACK, count, monster, sync
from tests.psql import run_psql

VERTEX = """
SELECT * FROM cypher('monster_ai', $$
    MATCH (m:Monster) WHERE m.id = 1002
    RETURN m.id, m.mob_id, m.archetype, m.leadership_score, m.position_x, m.position_y,
           m.current_hp_ratio, m.map_id
$$) AS (id agtype, mob_id agtype, archetype agtype, leadership agtype, x agtype, y agtype,
        hp agtype, map_id agtype);
"""


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def test_sync_stores_state_and_the_vertex_the_seeds_cypher_reads(
    game: psycopg.Connection[Any], db_url: str
) -> None:
    state = [i / 64 for i in range(64)]
    assert sync(game, PACK[0], monster(1002, 103, 100, 0.5, state=state)) == 2
    assert run_psql(db_url, VERTEX).strip() == '1002|1002|"aggressive"|0.5|103|100|1.0|1'

    assert sync(game, monster(1002, 110, 95, 0.55, hp=0.25, map_id=1, archetype="tank")) == 1
    assert run_psql(db_url, VERTEX).strip() == '1002|1002|"tank"|0.55|110|95|0.25|1'
    with psycopg.connect(db_url) as admin:
        row = admin.execute("SELECT x, y, hp_ratio, state FROM ml.monsters WHERE id = 1002")
        assert row.fetchone() == (110, 95, 0.25, [0.25] * 64)


def test_typed_form_writes_what_the_json_form_writes(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    states = [[float(i)] * 64 for i in (1, 2)]
    synced = game.execute(
        "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
        (
            [7, 8],
            [1002, 1031],
            ["tank", "mage"],
            [3, 3],
            [10, 12],
            [20, 20],
            [1.0, 0.5],
            [0.9, 0.1],
            states,
        ),
    ).fetchone()
    assert synced == (2,)
    flat = [v for s in states for v in s]  # the same call with the states back to back
    game.execute(
        "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
        (
            [7, 8],
            [1002, 1031],
            ["tank", "mage"],
            [3, 3],
            [10, 12],
            [21, 20],
            [1.0, 0.5],
            [0.9, 0.1],
            flat,
        ),
    )
    rows = admin.execute(
        "SELECT id, archetype, y, hp_ratio, state[1], state[64] FROM ml.monsters ORDER BY id"
    ).fetchall()
    assert rows == [(7, "tank", 21, 1.0, 1.0, 1.0), (8, "mage", 20, 0.5, 2.0, 2.0)]
    assert count(admin, 'SELECT count(*) FROM monster_ai."Monster"') == 2


def test_despawn_removes_row_vertex_edges_and_signals(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    sync(game, *PACK)
    game.execute("SELECT ml.send_attack_target_signal(1001, 5001, 0.9, ARRAY[1002, 1003])")
    game.execute("SELECT ml.send_help_request(1002, 0.9, 0.2, 103, 100, ARRAY[1001])")
    vertex = admin.execute("SELECT vertex_id::text FROM ml.monsters WHERE id = 1002").fetchone()
    assert vertex is not None
    game.execute("SELECT ml.despawn_monster(1002)")

    assert count(admin, "SELECT count(*) FROM ml.monsters WHERE id = 1002") == 0
    gone = 'SELECT count(*) FROM monster_ai."Monster" WHERE id = %s::text::graphid'
    assert count(admin, gone, vertex[0]) == 0
    edges = """SELECT count(*) FROM monster_ai._ag_label_edge
               WHERE start_id = %s::text::graphid OR end_id = %s::text::graphid"""
    assert count(admin, edges, vertex[0], vertex[0]) == 0
    assert count(admin, 'SELECT count(*) FROM monster_ai."SIGNALS"') == 1  # 1001 -> 1003 is left


def test_despawn_of_an_unknown_monster_is_p0002(game: psycopg.Connection[Any]) -> None:
    with pytest.raises(errors.NoDataFound, match="unknown monster 4242"):
        game.execute("SELECT ml.despawn_monster(4242)")


def with_field(field: str, value: Any) -> list[Any]:
    good = monster(1, 10, 10)
    bad = monster(2, 12, 10)
    bad[field] = value
    return [good, bad]


def without(field: str) -> list[Any]:
    bad = monster(2, 12, 10)
    del bad[field]
    return [monster(1, 10, 10), bad]


BAD_SYNCS = [
    pytest.param({"id": 1}, "ML005", "monsters must be a JSON array", id="not-an-array"),
    pytest.param([monster(1, 1, 1), 5], "ML005", "monsters[1]: must be an object", id="element"),
    pytest.param(without("hp_ratio"), "ML005", "monsters[1]: hp_ratio is missing", id="missing"),
    pytest.param(with_field("x", "ten"), "ML005", "monsters[1]: x must be an integer", id="x-text"),
    pytest.param(with_field("x", 10.5), "ML005", "monsters[1]: x must be an integer", id="x-frac"),
    pytest.param(with_field("x", -1), "ML003", "monsters[1]: x and y must be cells", id="x-range"),
    pytest.param(with_field("id", 0), "ML003", "monsters[1]: id must be positive", id="id-zero"),
    pytest.param(
        with_field("hp_ratio", 1.5), "ML003", "monsters[1]: hp_ratio must be in [0, 1]", id="hp"
    ),
    pytest.param(
        with_field("hp_ratio", "NaN"),
        "ML003",
        "monsters[1]: hp_ratio must be in [0, 1], got NaN",
        id="hp-nan",
    ),
    pytest.param(
        with_field("leadership_score", 2), "ML003", "leadership_score must be in [0, 1]", id="lead"
    ),
    pytest.param(
        with_field("state", [0.1] * 63), "ML004", "monsters[1]: state must be", id="state-63"
    ),
    pytest.param(
        with_field("state", [0.1] * 63 + ["NaN"]),
        "ML004",
        "monsters[1]: state must be",
        id="state-nan",
    ),
    pytest.param(
        with_field("state", [0.1] * 63 + [1e39]),
        "ML004",
        "monsters[1]: state must be",
        id="state-overflow",
    ),
    pytest.param(
        with_field("state", [0.1] * 63 + [None]),
        "ML004",
        "monsters[1]: state must be",
        id="state-null",
    ),
    pytest.param(
        with_field("state", [0.1] * 63 + ["x"]),
        "ML004",
        "monsters[1]: state must be",
        id="state-text",
    ),
    pytest.param(with_field("state", "fast"), "ML004", "monsters[1]: state must be", id="state"),
    pytest.param(
        with_field("archetype", "dragon"),
        "22P02",
        "monsters[1]: unknown archetype 'dragon'",
        id="archetype",
    ),
    pytest.param(
        [monster(1, 1, 1), monster(1, 2, 2)], "23505", "monster 1 appears twice", id="duplicate"
    ),
]


@pytest.mark.parametrize(("payload", "sqlstate", "message"), BAD_SYNCS)
def test_bad_sync_raises_its_sqlstate_and_writes_nothing(
    game: psycopg.Connection[Any],
    admin: psycopg.Connection[Any],
    payload: Any,
    sqlstate: str,
    message: str,
) -> None:
    sync(game, monster(1, 5, 5, hp=0.9))
    with pytest.raises(psycopg.Error) as raised:
        game.execute("SELECT ml.sync_monsters(%s)", (Jsonb(payload),))
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)
    # The good element before the bad one was not applied: monster 1 is as it was.
    assert admin.execute("SELECT x, hp_ratio FROM ml.monsters").fetchall() == [(5, 0.9)]
    assert count(admin, 'SELECT count(*) FROM monster_ai."Monster"') == 1


def test_malformed_json_text_is_refused_by_the_parser(game: psycopg.Connection[Any]) -> None:
    with pytest.raises(errors.InvalidTextRepresentation):
        game.execute("SELECT ml.sync_monsters(%s::jsonb)", ('[{"id": 1,',))


@pytest.mark.parametrize(
    ("arrays", "sqlstate", "message"),
    [
        pytest.param(([1, 2], [1], ["tank"] * 2), "ML005", "one entry per monster", id="lengths"),
        pytest.param(([1], [1], ["tank"]), "ML004", "states must hold 64 floats", id="states"),
    ],
)
def test_bad_typed_sync(
    game: psycopg.Connection[Any], arrays: tuple[list[Any], ...], sqlstate: str, message: str
) -> None:
    ids, mobs, kinds = arrays
    n = len(ids)
    with pytest.raises(psycopg.Error) as raised:
        game.execute(
            sql.SQL("SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])"),
            (ids, mobs, kinds, [1] * n, [1] * n, [1] * n, [1.0] * n, [0.5] * n, [0.1] * 63),
        )
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)


def test_typed_sync_refuses_a_non_finite_state(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    states = [0.5] * 64 + [0.5] * 63 + [float("inf")]
    with pytest.raises(psycopg.Error) as raised:
        game.execute(
            "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
            ([1, 2], [1, 1], ["tank"] * 2, [1, 1], [1, 2], [1, 1], [1.0] * 2, [0.5] * 2, states),
        )
    assert raised.value.sqlstate == "ML004"
    assert "monsters[1]: state must be 64 finite floats" in str(raised.value)
    assert count(admin, "SELECT count(*) FROM ml.monsters") == 0


def test_state_json_round_trip_keeps_float_precision(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    state = [json.loads(json.dumps(0.1234567))] * 64
    sync(game, monster(9, 1, 1, state=state))
    row = admin.execute("SELECT state[1] FROM ml.monsters WHERE id = 9").fetchone()
    assert row is not None
    assert abs(row[0] - 0.1234567) < 1e-7


# Every field the seed's Cypher reads from a Monster vertex, as one agtype list per monster.
EVERY_VERTEX = """SELECT * FROM cypher('monster_ai', $$
    MATCH (m:Monster)
    RETURN [m.id, m.mob_id, m.archetype, m.leadership_score, m.position_x, m.position_y,
            m.current_hp_ratio, m.map_id] $$) AS (fields agtype)"""
EVERY_ROW = """SELECT id, mob_id, archetype, leadership_score, x, y, hp_ratio, map_id, state
               FROM ml.monsters ORDER BY id"""


def typed_sync(game: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> int:
    """ml.sync_monsters' typed form; rows are (id, mob_id, archetype, map_id, x, y, hp, score,
    state), the states sent back to back."""
    columns = [list(c) for c in zip(*rows, strict=True)]
    flat = [v for state in columns[8] for v in state]
    row = game.execute(
        "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
        (*columns[:8], flat),
    ).fetchone()
    assert row is not None
    return int(row[0])


def assert_vertices_equal_rows(admin: psycopg.Connection[Any]) -> None:
    vertices = sorted(json.loads(str(v)) for (v,) in admin.execute(EVERY_VERTEX.encode()))
    rows = admin.execute(EVERY_ROW).fetchall()
    assert vertices == [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]] for r in rows]
    # Integers stay agtype integers and ratios agtype floats, whatever their value (1.0, 0.0).
    for fields in vertices:
        assert [type(f) for f in fields] == [int, int, str, float, int, int, float, int]


def test_every_vertex_stays_equal_to_its_row_through_typed_syncs(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    kinds = ("aggressive", "defensive", "support", "mage", "tank", "ranged")

    def state_of(id_: int, tick: int) -> list[float]:
        return [float(id_ * 100 + tick)] + [0.5] * 62 + [float(-id_)]

    def row(id_: int, tick: int, x: int, hp: float = 1.0) -> tuple[Any, ...]:
        return (id_, 1000 + id_, kinds[id_ % 6], 1 + id_ % 3, x, 2 * id_, hp, id_ / 100,
                state_of(id_, tick))  # fmt: skip

    assert typed_sync(game, [row(i, 0, i) for i in range(1, 41)]) == 40
    assert_vertices_equal_rows(admin)
    # Every monster moves (and some lose hp, one dies); then a tick where half stand still, two
    # leave for another map and two new ones spawn in the same call.
    assert typed_sync(game, [row(i, 1, i + 1, hp=1.0 - (i % 4) / 4) for i in range(1, 41)]) == 40
    assert_vertices_equal_rows(admin)
    mixed = [row(i, 2, i + 1 + i % 2, hp=1.0 - (i % 4) / 4) for i in range(1, 41)]
    mixed[4] = (*mixed[4][:3], 9, *mixed[4][4:])
    mixed[5] = (*mixed[5][:3], 9, *mixed[5][4:])
    assert typed_sync(game, [*mixed, row(41, 2, 0, hp=0.0), row(42, 2, 3)]) == 42
    assert_vertices_equal_rows(admin)
    # Each monster got its own 64 floats, in the order sent.
    states = admin.execute("SELECT id, state FROM ml.monsters ORDER BY id").fetchall()
    assert states == [(i, state_of(i, 2)) for i in range(1, 43)]


def test_json_sync_keeps_the_vertex_equal_to_its_row(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any]
) -> None:
    sync(game, *PACK)
    sync(game, monster(1001, 101, 99, 0.95, hp=0.0), monster(1002, 103, 100, 0.5), *PACK[2:])
    sync(game, monster(1003, 7, 8, 0.0, map_id=4, hp=0.5, archetype="mage"), monster(5, 1, 1))
    assert_vertices_equal_rows(admin)


def test_no_index_covers_the_vertex_properties_so_a_move_is_a_hot_update(
    admin: psycopg.Connection[Any],
) -> None:
    # Every sync rewrites the properties of every monster that moved; an index over them (such as
    # one on the id property) would make each of those updates write index entries.
    indexes = admin.execute(
        """SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
           WHERE indrelid = 'monster_ai."Monster"'::regclass ORDER BY 1"""
    ).fetchall()
    assert [name for name, _ in indexes] == ["monster_ai.monster_vertex_id_idx"]
    assert all("properties" not in definition for _, definition in indexes)
    options = admin.execute(
        "SELECT reloptions FROM pg_class WHERE oid = 'monster_ai.\"Monster\"'::regclass"
    ).fetchone()
    assert options == (["fillfactor=70"],)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=str)
@pytest.mark.parametrize("at", [0, 31, 63])
def test_every_non_finite_float_anywhere_in_a_state_is_ml004(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any], bad: float, at: int
) -> None:
    state = [0.5] * 64
    state[at] = bad
    with pytest.raises(psycopg.Error) as raised:
        game.execute(
            "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
            ([1, 2], [1, 1], ["tank"] * 2, [1, 1], [1, 2], [1, 1], [1.0] * 2, [0.5] * 2,
             [0.5] * 64 + state),
        )  # fmt: skip
    assert raised.value.sqlstate == "ML004"
    assert "monsters[1]: state must be 64 finite floats" in str(raised.value)
    assert count(admin, "SELECT count(*) FROM ml.monsters") == 0
    # The extremes of real are finite and accepted.
    extremes = [3.4028234e38, -3.4028234e38, 1e-45] + [0.5] * 61
    game.execute(
        "SELECT ml.sync_monsters(%s, %s, %s, %s, %s, %s, %s, %s, %s::real[])",
        ([3], [1], ["tank"], [1], [1], [1], [1.0], [0.5], extremes),
    )
    assert count(admin, "SELECT count(*) FROM ml.monsters") == 1
