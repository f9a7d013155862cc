"""Pack formation in the database: when it runs, what the graph holds, and how packs re-form."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.coordination_helpers import PACK, count, monster, sync, team
from tests.psql import run_psql

SEED_PACK_STRUCTURE = """
SELECT * FROM cypher('monster_ai', $$
    MATCH (m:Monster {id: 1001})-[r:LEADS]->(follower)
    RETURN follower.id, r.strength
$$) AS (id agtype, strength agtype);
"""


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


class Contender:
    """One side of a lock-order race, in a thread started at once: `work`, with the database
    errors it hits kept (a deadlock aborts one of the two sides with one). The test's own side
    adds its errors to `failures` too."""

    def __init__(self, work: Callable[[], object]) -> None:
        self.failures: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(work,))
        self.thread.start()

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except psycopg.Error as exc:
            self.failures.append(exc)

    def finished(self) -> list[BaseException]:
        """Its errors, once it has ended (it must, within 10 s)."""
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        return self.failures


def test_spawn_forms_packs_at_once_and_the_seeds_cypher_shows_them(
    game: psycopg.Connection[Any], db_url: str
) -> None:
    sync(game, *PACK)
    # Strength: how clearly the leader outranks the follower (0.9 - 0.5, 0.9 - 0.4).
    assert sorted(run_psql(db_url, SEED_PACK_STRUCTURE).splitlines()) == ["1002|0.4", "1003|0.5"]
    assert team(game, 1001) == (1001, [1002, 1003], [], "leader")
    assert team(game, 1002) == (1001, [], [1003], "follower")
    assert team(game, 2001) == (None, [], [], "independent")


def test_every_follower_follows_back(admin: psycopg.Connection[Any], game: Any) -> None:
    sync(game, *PACK)
    follows = """SELECT * FROM cypher('monster_ai', $$
        MATCH (f:Monster)-[:FOLLOWS]->(l:Monster) RETURN f.id, l.id $$) AS (f agtype, l agtype)"""
    assert sorted(tuple(map(str, r)) for r in admin.execute(follows.encode())) == [
        ("1002", "1001"),
        ("1003", "1001"),
    ]


def test_member_role_for_teammates_without_a_leader(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    # Formation always names a leader; an operator's hand-made pack of equals still reads right.
    sync(game, monster(1, 0, 0), monster(2, 50, 50), monster(3, 90, 90))
    admin.execute(
        """INSERT INTO monster_ai."TEAMMATE_OF" (start_id, end_id)
           SELECT a.vertex_id, b.vertex_id FROM ml.monsters a, ml.monsters b
           WHERE a.id IN (1, 2) AND b.id IN (1, 2) AND a.id <> b.id"""
    )
    assert team(game, 1) == (None, [], [2], "member")
    rows = game.execute("SELECT * FROM ml.detect_pack_formation(ARRAY[3, 2, 1])").fetchall()
    assert rows == [(None, [1, 2]), (None, [3])]


def test_detect_pack_formation_groups_a_batch_by_pack(game: psycopg.Connection[Any]) -> None:
    sync(game, *PACK, monster(3001, 10, 10, map_id=2), monster(3002, 12, 12, 0.7, map_id=2))
    rows = game.execute(
        "SELECT * FROM ml.detect_pack_formation(ARRAY[2001, 1003, 3001, 1001, 3002, 1003])"
    ).fetchall()
    assert rows == [(1001, [1001, 1003]), (None, [2001]), (3002, [3001, 3002])]


def test_detect_pack_formation_of_an_unknown_monster_is_p0002(game: Any) -> None:
    sync(game, *PACK)
    with pytest.raises(errors.NoDataFound, match="unknown monster 9999"):
        game.execute("SELECT * FROM ml.detect_pack_formation(ARRAY[1001, 9999])")


def test_get_monster_team_of_an_unknown_monster_is_p0002(game: Any) -> None:
    with pytest.raises(errors.NoDataFound, match="unknown monster 77"):
        game.execute("SELECT * FROM ml.get_monster_team(77)")


def test_moves_re_form_packs_on_the_next_formation_run(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    sync(game, *PACK)
    sync(game, monster(1003, 140, 140, 0.4))  # walks away from its pack, next to 2001
    assert team(game, 1003)[3] == "follower"  # a move alone waits for the formation job
    dirty = """SELECT count(*) FROM ml.monsters m JOIN ml.pack_maps p USING (map_id)
               WHERE m.formation_changed_at > p.formed_at"""
    assert count(admin, dirty) == 1
    admin.execute("CALL ml.form_dirty_packs()")  # what pg_cron runs every second
    assert team(game, 1001) == (1001, [1002], [], "leader")
    assert team(game, 2001) == (2001, [1003], [], "leader")
    assert team(game, 1002) == (1001, [], [], "follower")  # its teammate left
    assert count(admin, dirty) == 0


def test_leader_death_promotes_the_next_at_once(game: psycopg.Connection[Any]) -> None:
    sync(game, *PACK)
    sync(game, monster(1001, 100, 100, 0.9, hp=0.0))
    assert team(game, 1001) == (None, [], [], "independent")
    assert team(game, 1002) == (1002, [1003], [], "leader")


def test_pack_of_two_dissolves_when_one_despawns(game: psycopg.Connection[Any]) -> None:
    sync(game, monster(1, 0, 0, 0.9), monster(2, 3, 3, 0.2))
    assert team(game, 2)[3] == "follower"
    game.execute("SELECT ml.despawn_monster(1)")
    assert team(game, 2) == (None, [], [], "independent")


def test_changing_map_leaves_the_pack_at_once(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    sync(game, *PACK, monster(5, 100, 100, 0.3, map_id=2))
    sync(game, monster(1001, 102, 101, 0.9, map_id=2))  # the leader warps to map 2
    assert team(game, 1002) == (1002, [1003], [], "leader")
    assert team(game, 1001) == (1001, [5], [], "leader")
    packs = admin.execute("SELECT map_id, leader_id, member_ids, size FROM ml.packs ORDER BY 2")
    assert packs.fetchall() == [(2, 1001, [5, 1001], 2), (1, 1002, [1002, 1003], 2)]


def test_formation_reads_its_settings_from_ml_config(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    admin.execute("UPDATE ml.config SET value = '3' WHERE key = 'pack_formation.radius'")
    sync(game, *PACK)  # 1003 is 6 cells from the leader: out of a 3-cell reach
    assert team(game, 1001) == (1001, [1002], [], "leader")


def test_formation_writes_only_the_difference(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any]
) -> None:
    sync(game, *PACK)
    edge_ids = "SELECT array_agg(id::text ORDER BY id::text) FROM monster_ai._ag_label_edge"
    before = admin.execute(edge_ids.encode()).fetchone()
    assert game.execute("SELECT ml.form_packs(ARRAY[1])").fetchone() == (1,)
    assert admin.execute(edge_ids.encode()).fetchone() == before
    row = admin.execute("SELECT edges_added, edges_removed FROM ml.pack_maps WHERE map_id = 1")
    assert row.fetchone() == (0, 0)


def test_a_despawn_waits_for_a_running_formation_before_touching_its_edges(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any], db_url: str
) -> None:
    """A formation of the map (holding the map's lock) deletes an edge of a monster that is being
    despawned at the same moment: the despawn must wait for the lock before deleting that edge
    itself, or each waits for the other (a deadlock the demo hit: the game server's despawn
    against the every-second formation)."""
    sync(game, monster(1, 10, 10, 0.9), monster(2, 11, 10, 0.5))  # one pack: 1 leads 2
    with psycopg.connect(db_url) as formation:
        # What ml.form_packs does on the map: take its lock, then rewrite the pack's edges.
        formation.execute("SELECT ml.lock_pack_maps(ARRAY[1])")
        despawning = Contender(lambda: game.execute("SELECT ml.despawn_monster(2)"))
        time.sleep(0.3)  # the despawn is waiting now
        formation.execute(
            'DELETE FROM monster_ai."LEADS" e USING ml.monsters m '
            "WHERE e.start_id = m.vertex_id AND m.id = 1"
        )  # before the fix this waited on the despawn, which waited on the lock: a deadlock
        formation.commit()
        assert despawning.finished() == []
    assert count(admin, "SELECT count(*) FROM ml.monsters") == 1
    assert count(admin, 'SELECT count(*) FROM monster_ai."LEADS"') == 0


def test_a_formation_of_several_maps_takes_every_lock_before_touching_an_edge(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any], db_url: str
) -> None:
    """A sync moving a monster from map 2 to map 1 re-forms both maps; forming map 1 removes the
    monster's edges into map 2. A despawn on map 2 (holding map 2's lock) deletes the same edges.
    The formation must hold map 2's lock before it touches any edge, or it holds an edge the
    despawn waits for while it waits for the despawn's lock (bench/sync_contention.py found it)."""
    sync(game, monster(1, 10, 10, 0.9, map_id=2), monster(2, 11, 10, 0.5, map_id=2))
    assert team(game, 1) == (1, [2], [], "leader")
    with psycopg.connect(db_url) as despawn:
        # What ml.despawn_monster(2) does first: take its map's lock.
        despawn.execute("SELECT ml.lock_pack_maps(ARRAY[2])")
        moving = Contender(lambda: sync(game, monster(1, 10, 10, 0.9, map_id=1)))
        time.sleep(0.3)  # the sync is waiting now (before the fix: holding 1 -> 2's edges)
        despawn.execute(  # then delete the monster's edges
            "DELETE FROM monster_ai._ag_label_edge e USING ml.monsters m "
            "WHERE (e.start_id = m.vertex_id OR e.end_id = m.vertex_id) AND m.id = 2"
        )
        despawn.commit()
        assert moving.finished() == []
    assert count(admin, "SELECT map_id FROM ml.monsters WHERE id = 1") == 1
    assert count(admin, 'SELECT count(*) FROM monster_ai."LEADS"') == 0


def test_two_syncs_of_the_same_monsters_lock_them_in_one_order(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any], game_url: str, db_url: str
) -> None:
    """Two syncs naming the same monsters in different orders: each locks the rows in id order,
    so neither holds a row the other waits for while it waits (before, the rows were locked in
    the order given: a deadlock, bench/sync_contention.py)."""
    sync(game, monster(1, 10, 10), monster(2, 40, 40))

    def sync_in_order(ids: list[int]) -> None:
        with psycopg.connect(game_url, autocommit=True) as conn:
            sync(conn, *(monster(i, 10 * i, 10) for i in ids))

    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM ml.monsters WHERE id = 1 FOR UPDATE")  # row 1 busy
        first = Contender(lambda: sync_in_order([1, 2]))
        time.sleep(0.3)  # waiting for row 1, holding nothing
        second = Contender(lambda: sync_in_order([2, 1]))
        time.sleep(0.3)  # before the fix: holding row 2, waiting for row 1 behind the first
        holder.commit()  # the first takes row 1, then needs row 2
        assert first.finished() + second.finished() == []
    assert count(admin, "SELECT count(*) FROM ml.monsters WHERE x IN (10, 20)") == 2


def test_a_sync_that_re_forms_maps_in_both_statements_locks_them_in_one_order(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any], game_url: str, db_url: str
) -> None:
    """One sync: a death on map 2 (its update re-forms map 2) and a spawn on map 1 (its insert
    re-forms map 1). Meanwhile pg_cron's formation of maps 1 and 2 holds map 1's lock and will
    want map 2's. The sync must take both maps' locks, in order, before either statement, or it
    holds map 2 and waits for map 1 while the formation holds map 1 and waits for map 2."""
    sync(game, monster(1, 10, 10, 0.9, map_id=2), monster(2, 11, 10, 0.5, map_id=2))

    def tick() -> None:
        with psycopg.connect(game_url, autocommit=True) as conn:
            sync(
                conn,
                monster(1, 10, 10, 0.9, map_id=2, hp=0.0),  # dies: map 2 re-forms
                monster(3, 10, 10, 0.5, map_id=1),  # spawns: map 1 re-forms
            )

    with psycopg.connect(db_url) as formation:
        formation.execute("SELECT ml.lock_pack_maps(ARRAY[1])")  # as it forms map 1, then 2
        ticking = Contender(tick)
        time.sleep(0.3)  # the sync is waiting now (before the fix: holding map 2's lock)
        try:
            formation.execute("SELECT ml.lock_pack_maps(ARRAY[2])")
            formation.commit()
        except psycopg.Error as exc:
            ticking.failures.append(exc)
        assert ticking.finished() == []
    assert count(admin, "SELECT count(*) FROM ml.monsters") == 3
    assert team(game, 2) == (None, [], [], "independent")  # its leader died


def test_the_cleanup_of_emptied_maps_waits_for_a_formation_of_those_maps(
    admin: psycopg.Connection[Any], game: psycopg.Connection[Any], game_url: str, db_url: str
) -> None:
    """ml.form_dirty_packs drops the bookkeeping rows of maps left without monsters. A sync that
    spawns on two such maps forms each under its lock and writes its row: the cleanup must take
    the maps' locks before deleting any row, or it deletes one row and waits on the other while
    the sync waits on the deleted one (a deadlock the demo hit: a respawn against pg_cron)."""
    sync(game, monster(1, 10, 10, map_id=1), monster(2, 10, 10, map_id=2))
    game.execute("SELECT ml.despawn_monster(1)")
    game.execute("SELECT ml.despawn_monster(2)")  # both maps empty, their rows still there

    def cleanup() -> None:
        with psycopg.connect(db_url, autocommit=True) as cron:
            cron.execute("CALL ml.form_dirty_packs()")

    with psycopg.connect(game_url) as spawner:  # one transaction, as one sync spawning on both
        sync(spawner, monster(11, 10, 10, map_id=1))  # map 1 formed: its lock and row held
        cleaning = Contender(cleanup)
        time.sleep(0.3)  # the cleanup is waiting now
        try:
            # Before the fix the cleanup had deleted map 2's row and waited on map 1's: this
            # formation's write of map 2's row waited on it, a deadlock.
            sync(spawner, monster(12, 10, 10, map_id=2))
            spawner.commit()
        except psycopg.Error as exc:
            cleaning.failures.append(exc)
        assert cleaning.finished() == []
    assert count(admin, "SELECT count(*) FROM ml.pack_maps WHERE map_id IN (1, 2)") == 2
    # And maps that are still empty once their locks are held lose their rows.
    game.execute("SELECT ml.despawn_monster(11)")
    admin.execute("CALL ml.form_dirty_packs()")
    assert count(admin, "SELECT array_agg(map_id ORDER BY map_id) = '{2}' FROM ml.pack_maps")
