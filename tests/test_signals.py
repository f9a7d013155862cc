"""Signals: SIGNALS edges with a TTL per type, received and encoded until they expire, swept in the
database, logged; and every bad signal refused with its own SQLSTATE, writing nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.coordination_helpers import PACK, T0, advance, count, monster, set_clock, sync

LIVE_EDGES = 'SELECT count(*) FROM monster_ai."SIGNALS"'


@pytest.fixture
def clocked(admin: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The admin connection with the database clock at T0 and the pack of PACK synced."""
    set_clock(admin, T0)
    sync(admin, *PACK)
    return admin


def received(conn: psycopg.Connection[Any], monster_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT signal_type, content, priority, from_monster_id FROM ml.receive_signals(%s)",
        (monster_id,),
    ).fetchall()


def vector(conn: psycopg.Connection[Any], monster_id: int) -> list[float]:
    row = conn.execute("SELECT ml.signal_vector(%s)", (monster_id,)).fetchone()
    assert row is not None
    return [round(v, 6) for v in row[0]]


def test_each_sender_writes_its_signal_and_the_vector_encodes_it(
    clocked: psycopg.Connection[Any],
) -> None:
    conn = clocked
    sent = [
        conn.execute("SELECT ml.send_attack_target_signal(1001, 5001, 0.9, ARRAY[1002])"),
        conn.execute("SELECT ml.send_retreat_signal(1001, 150, 200, 'outnumbered', ARRAY[1002])"),
        conn.execute(
            "SELECT ml.send_formation_command(1001, 'flanking', %s, ARRAY[1002])",
            (Jsonb({"1002": [145, 195]}),),
        ),
        conn.execute("SELECT ml.send_help_request(1003, 0.9, 0.2, 100, 106, ARRAY[1002])"),
    ]
    assert [c.fetchone() for c in sent] == [(1,)] * 4
    assert received(conn, 1002) == [
        ("retreat", {"rally_point": [150, 200], "reason": "outnumbered"}, 1, 1001),
        ("attack_target", {"threat": 0.9, "target_id": 5001}, 2, 1001),
        ("help_request", {"urgency": 0.9, "hp_ratio": 0.2, "position": [100, 106]}, 3, 1003),
        (
            "formation_command",
            {"formation_type": "flanking", "positions": {"1002": [145, 195]}},
            4,
            1001,
        ),
    ]
    expected = [0.0] * 32
    expected[7], expected[8], expected[23], expected[24] = 0.9, 0.7, 0.8, 1.0
    assert vector(conn, 1002) == expected
    assert vector(conn, 1001) == [0.0] * 32  # no signal: zeros


def test_broadcast_without_pack_reaches_living_monsters_in_range(
    clocked: psycopg.Connection[Any],
) -> None:
    conn = clocked
    sync(
        conn,
        monster(4, 115, 100),
        monster(5, 116, 100),
        monster(6, 101, 101, hp=0.0),
        monster(7, 100, 100, map_id=2),
    )
    data = Jsonb({"directive": "hold"})
    row = conn.execute("SELECT ml.broadcast_signal(1001, 'directive', %s)", (data,)).fetchone()
    assert row == (3,)  # 1002, 1003 and 4 (15 cells); not 5 (16), the dead 6, or 7 (map 2)
    log = conn.execute(
        "SELECT pack_id, signal_type, from_monster_id, to_monster_ids, signal_content, success,"
        " created_at FROM ml_coordination_logs"
    ).fetchall()
    assert log == [(1001, "directive", 1001, [4, 1002, 1003], {"directive": "hold"}, True, T0)]


def test_pack_receivers_once_each_in_id_order_without_the_sender(
    clocked: psycopg.Connection[Any],
) -> None:
    sync(clocked, monster(4, 101, 101))
    pack = [1003, 4, 1002, 1003, 1001, 4]
    row = clocked.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, %s)", (pack,))
    assert row.fetchone() == (3,)
    assert count(clocked, LIVE_EDGES) == 3
    log = clocked.execute("SELECT to_monster_ids, success FROM ml_coordination_logs")
    assert log.fetchall() == [([4, 1002, 1003], True)]
    assert [len(received(clocked, m)) for m in (4, 1001, 1002, 1003)] == [1, 0, 1, 1]


@pytest.mark.parametrize(
    ("pack", "named"),
    [
        pytest.param([1002, 4243, 1003, 4242], "4243", id="first-in-array-order"),
        pytest.param([4242, 1001], "4242", id="before-the-sender"),
        pytest.param([4242, 4242], "4242", id="twice"),
    ],
)
def test_the_first_unknown_receiver_is_named(
    clocked: psycopg.Connection[Any], pack: list[int | None], named: str
) -> None:
    with pytest.raises(psycopg.errors.NoDataFound) as raised:
        clocked.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, %s)", (pack,))
    assert f"unknown monster {named} in pack_monsters" in str(raised.value)
    assert count(clocked, LIVE_EDGES) == 0


def test_broadcast_to_nobody_is_logged_as_unsuccessful(clocked: psycopg.Connection[Any]) -> None:
    row = clocked.execute("SELECT ml.broadcast_signal(2001, 'retreat', '{}', NULL, 1)").fetchone()
    assert row == (0,)
    log = clocked.execute("SELECT to_monster_ids, success FROM ml_coordination_logs")
    assert log.fetchall() == [([], False)]


def test_signals_expire_after_their_types_ttl(clocked: psycopg.Connection[Any]) -> None:
    conn = clocked
    conn.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002])")  # 3 s
    conn.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002])")  # 5 s
    conn.execute("SELECT ml.send_formation_command(1001, 'surround', NULL, ARRAY[1002])")  # 10 s
    expires = conn.execute(
        "SELECT signal_type, expires_at - sent_at FROM ml.receive_signals(1002) ORDER BY 2"
    ).fetchall()
    assert expires == [
        ("retreat", timedelta(seconds=3)),
        ("attack_target", timedelta(seconds=5)),
        ("formation_command", timedelta(seconds=10)),
    ]
    advance(conn, 2.999)
    assert [r[0] for r in received(conn, 1002)] == ["retreat", "attack_target", "formation_command"]
    advance(conn, 3.0)  # expiry is exclusive: at expires_at the signal is gone
    assert [r[0] for r in received(conn, 1002)] == ["attack_target", "formation_command"]
    advance(conn, 9.0)
    assert [r[0] for r in received(conn, 1002)] == ["formation_command"]
    assert vector(conn, 1002)[8 + 6] == 0.7
    advance(conn, 10.0)
    assert received(conn, 1002) == []
    assert vector(conn, 1002) == [0.0] * 32
    assert count(conn, LIVE_EDGES) == 3  # never read, not yet swept


def test_ttl_comes_from_ml_config(clocked: psycopg.Connection[Any]) -> None:
    clocked.execute("UPDATE ml.config SET value = '1' WHERE key = 'signals.ttl_seconds.retreat'")
    clocked.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002])")
    advance(clocked, 1.0)
    assert received(clocked, 1002) == []


def test_expire_signals_sweeps_and_counts(clocked: psycopg.Connection[Any]) -> None:
    conn = clocked
    conn.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002, 1003])")
    conn.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002])")
    advance(conn, 3.0)
    assert conn.execute("SELECT ml.expire_signals()").fetchone() == (2,)
    assert count(conn, LIVE_EDGES) == 1
    assert conn.execute("SELECT ml.expire_signals()").fetchone() == (0,)
    sweeps = conn.execute("SELECT source, expired FROM ml.signal_sweeps").fetchall()
    assert sweeps == [("sweep", 2)]


def test_new_signals_sweep_expired_ones_on_arrival(clocked: psycopg.Connection[Any]) -> None:
    conn = clocked
    conn.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002, 1003])")
    advance(conn, 4.0)
    conn.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002])")
    assert count(conn, LIVE_EDGES) == 1  # the two retreat edges went as the new one arrived
    assert conn.execute("SELECT source, expired FROM ml.signal_sweeps").fetchall() == [
        ("arrival", 2)
    ]
    activity = conn.execute(
        "SELECT signals_sent, edges_sent, edges_expired, swept_on_arrival FROM ml.signal_activity"
    ).fetchall()
    assert activity == [(2, 3, 2, 2)]


def test_game_role_cannot_move_the_clock(game_url: str, clocked: psycopg.Connection[Any]) -> None:
    clocked.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002])")
    with psycopg.connect(game_url, autocommit=True) as game:
        set_clock(game, T0)  # ignored for ml_user: its clock is the real one, years later
        assert game.execute("SELECT count(*) FROM ml.receive_signals(1002)").fetchone() == (0,)
        assert received(clocked, 1002) != []


def test_focus_fire_is_stored_as_attack_target(clocked: psycopg.Connection[Any]) -> None:
    data = Jsonb({"threat": 0.1, "target_id": 9})
    clocked.execute("SELECT ml.broadcast_signal(1001, 'focus_fire', %s, ARRAY[1002], 2)", (data,))
    assert received(clocked, 1002)[0][0] == "attack_target"


BAD_SIGNALS = [
    pytest.param(
        "SELECT ml.broadcast_signal(4242, 'retreat', '{}')",
        "P0002",
        "unknown monster 4242 (the sender)",
        id="unknown-sender",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002, 4242])",
        "P0002",
        "unknown monster 4242 in pack_monsters",
        id="unknown-receiver",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'dance', '{}')",
        "ML001",
        "unknown signal type 'dance'",
        id="unknown-type",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '{}', NULL, 11)",
        "ML002",
        "priority must be between 1 and 10, got 11",
        id="priority-high",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '{}', NULL, 0)",
        "ML002",
        "priority must be between 1 and 10, got 0",
        id="priority-low",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '{}', NULL, NULL)",
        "ML002",
        "priority must be between 1 and 10, got null",
        id="priority-null",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 'NaN', ARRAY[1002])",
        "ML003",
        "threat must be a number in [0, 1], got NaN",
        id="threat-nan",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 1.5, ARRAY[1002])",
        "ML003",
        "threat must be a number in [0, 1], got 1.5",
        id="threat-range",
    ),
    pytest.param(
        "SELECT ml.send_help_request(1002, -0.1, 0.5, 1, 1)",
        "ML003",
        "urgency must be a number in [0, 1], got -0.1",
        id="urgency",
    ),
    pytest.param(
        "SELECT ml.send_help_request(1002, 0.5, 'Infinity', 1, 1)",
        "ML003",
        "hp_ratio must be a number in [0, 1], got Infinity",
        id="hp",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'retreat', '[1, 2]')",
        "ML005",
        "signal content must be a JSON object, got array",
        id="content-array",
    ),
    pytest.param(
        "SELECT ml.broadcast_signal(1001, 'attack_target', '{\"threat\": \"high\"}')",
        "ML005",
        "threat must be a number in [0, 1], got 'high'",
        id="content-field",
    ),
    pytest.param(
        "SELECT ml.send_formation_command(1001, 'flanking', '[1]', ARRAY[1002])",
        "ML005",
        "positions must be an object",
        id="positions",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1001])",
        "ML006",
        "a pack of one: pack_monsters names nobody besides the sender 1001",
        id="pack-of-one",
    ),
    pytest.param(
        "SELECT ml.send_attack_target_signal(1001, 5, 0.5, '{}')",
        "ML006",
        "a pack of one",
        id="pack-empty",
    ),
    pytest.param(
        "SELECT ml.send_formation_command(1001, 'wedge', NULL, ARRAY[1002])",
        "ML007",
        "formation_type must be one of flanking",
        id="formation",
    ),
]


@pytest.mark.parametrize(("statement", "sqlstate", "message"), BAD_SIGNALS)
def test_bad_signal_raises_its_sqlstate_and_writes_nothing(
    game_url: str, clocked: psycopg.Connection[Any], statement: str, sqlstate: str, message: str
) -> None:
    with psycopg.connect(game_url, autocommit=True) as game, pytest.raises(psycopg.Error) as bad:
        game.execute(statement.encode())
    assert bad.value.sqlstate == sqlstate
    assert message in str(bad.value)
    assert count(clocked, LIVE_EDGES) == 0
    assert count(clocked, "SELECT count(*) FROM ml_coordination_logs") == 0


def test_unknown_monster_cannot_receive(clocked: psycopg.Connection[Any]) -> None:
    for call in ("SELECT * FROM ml.receive_signals(4242)", "SELECT ml.signal_vector(4242)"):
        with pytest.raises(psycopg.errors.NoDataFound, match="unknown monster 4242"):
            clocked.execute(call.encode())


def test_arrival_sweep_survives_a_clock_moved_back(clocked: psycopg.Connection[Any]) -> None:
    conn = clocked
    advance(conn, 60.0)
    conn.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002])")  # sweep mark: +60
    set_clock(conn, T0)
    conn.execute("SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1003])")  # expires +3
    advance(conn, 4.0)
    conn.execute("SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1002])")
    # The +3 edge went on arrival although this session had swept up to +60 before.
    assert count(conn, LIVE_EDGES) == 2


def test_a_session_sweeps_on_arrival_at_most_every_100_ms(clocked: psycopg.Connection[Any]) -> None:
    conn = clocked
    retreat = "SELECT ml.send_retreat_signal(1001, 1, 1, NULL, ARRAY[1002])"  # 3 s to live
    attack = "SELECT ml.send_attack_target_signal(1001, 5, 0.5, ARRAY[1003])"
    conn.execute(retreat)
    advance(conn, 2.95)
    conn.execute(attack)  # sweeps (nothing has expired yet)
    advance(conn, 3.0)
    conn.execute(attack)  # 50 ms after this session's last sweep: no sweep
    assert count(conn, LIVE_EDGES) == 3
    assert received(conn, 1002) == []  # expired and left in place, but never read
    advance(conn, 3.1)
    conn.execute(attack)
    assert count(conn, LIVE_EDGES) == 3  # the retreat edge went; a third attack edge came
    assert (
        count(
            conn,
            'SELECT count(*) FROM monster_ai."SIGNALS" e'
            " WHERE e.end_id = (SELECT vertex_id FROM ml.monsters WHERE id = 1002)",
        )
        == 0
    )
