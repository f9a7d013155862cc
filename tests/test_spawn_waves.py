"""Syncs that spawn many monsters at once (a game server's start, a respawn wave): the syncs after
them keep plans fit for their sizes, and one formation of many maps does what forming them one by
one did (bench/spawn_wave.py measures both; revision 0018)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from tests.coordination_helpers import monster, sync

#: Monsters of the start: enough that a join comparing every one with every other stands out.
SPAWNED = 120


def plans_of(conn: psycopg.Connection[Any]) -> list[str]:
    """auto_explain's plans (with row counts) of every statement this session runs from now on,
    nested ones included."""
    plans: list[str] = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on",
        "SET auto_explain.log_analyze = on",
        "SET auto_explain.log_timing = off",
        "SET client_min_messages = log",
    ):
        conn.execute(setting.encode())
    return plans


def rows_compared(plans: list[str]) -> int:
    """The most rows one join node compared and threw away."""
    found = [int(n) for p in plans for n in re.findall(r"Rows Removed by Join Filter: (\d+)", p)]
    return max(found, default=0)


def pack_edges(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """Every pack edge as (label, from monster, to monster, strength)."""
    return conn.execute(
        "SELECT e.tableoid::regclass::text, s.id, t.id, "
        "ag_catalog.agtype_access_operator(VARIADIC ARRAY[e.properties, "
        "'\"strength\"'::ag_catalog.agtype])::text "
        "FROM monster_ai._ag_label_edge e "
        "JOIN ml.monsters s ON s.vertex_id = e.start_id "
        "JOIN ml.monsters t ON t.vertex_id = e.end_id "
        "WHERE e.tableoid <> 'monster_ai.\"SIGNALS\"'::regclass ORDER BY 1, 2, 3"
    ).fetchall()


def test_the_sync_after_a_start_does_not_compare_every_monster_with_every_other(
    admin: psycopg.Connection[Any],
) -> None:
    """A new session's first sync spawns everyone into tables whose statistics say empty (its
    update finds nobody and its update trigger fires with no rows); the next sync moves them all.
    Plans cached by the first call joined the second's monsters by comparing each with all."""
    admin.execute('ANALYZE ml.monsters, monster_ai."Monster"')  # empty: 0 rows
    plans = plans_of(admin)
    start = [
        monster(i, 10 * (i % 12), 10 * (i // 12), map_id=1 + i % 6) for i in range(1, SPAWNED + 1)
    ]
    sync(admin, *start)
    plans.clear()
    sync(admin, *({**m, "x": m["x"] + 1} for m in start))
    assert plans, "auto_explain logged nothing"
    assert rows_compared(plans) < SPAWNED


def test_statistics_taken_while_a_start_was_uncommitted_do_not_slow_the_next_syncs(
    db_url: str, admin: psycopg.Connection[Any]
) -> None:
    """ANALYZE (autovacuum's) while a start's spawns are uncommitted counts none of them: the
    statistics then say the tables are empty over all their pages until the next ANALYZE, and
    every session plans by them, a new one included."""
    start = [
        monster(i, 10 * (i % 12), 10 * (i // 12), map_id=1 + i % 6) for i in range(1, SPAWNED + 1)
    ]
    with psycopg.connect(db_url) as spawning:
        sync(spawning, *start)
        admin.execute('ANALYZE ml.monsters, monster_ai."Monster"')
        spawning.commit()
    assert admin.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'ml.monsters'::regclass"
    ).fetchone() == (0,)
    with psycopg.connect(db_url, autocommit=True) as later:
        plans = plans_of(later)
        sync(later, *({**m, "x": m["x"] + 1} for m in start))
    assert rows_compared(plans) < SPAWNED


def test_a_respawn_wave_after_a_start_finds_the_known_monsters_by_key(
    admin: psycopg.Connection[Any],
) -> None:
    """The session's first insert ran into an empty table; a later wave of new ids into the
    populated one must not compare each of them with every monster there."""
    admin.execute("ANALYZE ml.monsters")
    plans = plans_of(admin)
    sync(admin, monster(1, 10, 10))
    sync(admin, *(monster(i, 10 * (i % 12), 10 * (i // 12)) for i in range(2, SPAWNED)))
    plans.clear()
    sync(admin, *(monster(i, 10 * (i % 12), 10 * (i // 12)) for i in range(1000, 1000 + SPAWNED)))
    assert rows_compared(plans) < SPAWNED


def test_forming_many_maps_at_once_gives_what_forming_them_one_by_one_gave(
    admin: psycopg.Connection[Any],
) -> None:
    maps = [
        monster(100 * m + k, 20 + 3 * k + 40 * (k // 5), 20, round(0.1 + 0.08 * k, 2), map_id=m)
        for m in (1, 2, 3)
        for k in range(10)
    ]
    sync(admin, *maps)
    one_by_one = pack_edges(admin)
    recorded = admin.execute(
        "SELECT map_id, packs, in_packs FROM ml.pack_maps ORDER BY map_id"
    ).fetchall()
    assert len(one_by_one) > 0
    admin.execute(
        "DELETE FROM monster_ai._ag_label_edge e "
        "WHERE e.tableoid <> 'monster_ai.\"SIGNALS\"'::regclass"
    )
    assert admin.execute("SELECT ml.form_packs(ARRAY[3, 1, 2])").fetchone() == (
        sum(r[1] for r in recorded),
    )
    assert pack_edges(admin) == one_by_one
    assert (
        admin.execute("SELECT map_id, packs, in_packs FROM ml.pack_maps ORDER BY map_id").fetchall()
        == recorded
    )


def test_an_edge_spanning_two_of_the_maps_formed_is_removed_once_and_counted_on_the_lower(
    admin: psycopg.Connection[Any],
) -> None:
    """1001 leads 1002 and 1003 on map 1; 1002 moves to map 2, next to 2001, with formation
    deferred (as inside a sync), so its four edges with 1001 and 1003 span the two maps until one
    formation of both removes them."""
    sync(
        admin,
        monster(1001, 100, 100, 0.9),
        monster(1002, 103, 100, 0.5),
        monster(1003, 100, 106, 0.4),
        monster(2001, 100, 100, 0.8, map_id=2),
    )
    with admin.transaction():
        admin.execute("SELECT set_config('ml.defer_formation', 'on', true)")
        admin.execute("UPDATE ml.monsters SET map_id = 2 WHERE id = 1002")
        admin.execute("SELECT ml.form_packs(ARRAY[2, 1])")
    assert pack_edges(admin) == [
        ('monster_ai."FOLLOWS"', 1002, 2001, None),
        ('monster_ai."FOLLOWS"', 1003, 1001, None),
        ('monster_ai."LEADS"', 1001, 1003, "0.5"),
        ('monster_ai."LEADS"', 2001, 1002, "0.3"),
    ]
    assert admin.execute(
        "SELECT map_id, packs, in_packs, edges_added, edges_removed FROM ml.pack_maps "
        "ORDER BY map_id"
    ).fetchall() == [(1, 1, 2, 0, 4), (2, 1, 2, 2, 0)]
