"""Benchmark of the in-database coordination API: `python -m bench.coordination`.

Builds its own database (ragnarok_ml_bench, migrated to head, dropped at the end unless --keep) with
10,000 monsters on 100 maps, in clusters of up to 5, then times, as the game server's role:

* ml.sync_monsters of 1,000 monsters per call, JSON and typed arrays, every monster taking a step
  (and, typed, 20% of them), every one with a new state;
* a signal round: ml.send_attack_target_signal from a leader to its pack, then
  ml.receive_signals and ml.signal_vector for one follower: three statements in one libpq pipeline
  (one round trip, as a C++ game server sends them), and, for comparison, one round trip each;
* ml.get_monster_team of a random monster, and ml.detect_pack_formation of a pack plus a stranger;
* re-forming the packs of one map whose monsters all moved (ml.form_packs);
* SELECT 1, the round-trip floor every figure is compared with;
* for comparison, the team lookup and a send's edges done in Cypher, and what an index on the
  vertex `id` property (monster_id_idx, which the schema does not have) would cost a sync and
  save a Cypher lookup by id.

Prints median and p99 in milliseconds and the median's ratio to SELECT 1 from the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import Jsonb

from config.settings import DEV_PASSWORDS, load_settings
from scripts.migrate import upgrade

BENCH_DB = "ragnarok_ml_bench"
MAPS = 100
PER_MAP = 100
CLUSTER = 5
FLOAT4_OID, FLOAT4_ARRAY_OID = 700, 1021
ARCHETYPES = ("aggressive", "defensive", "support", "mage", "tank", "ranged")

TYPED_FIELDS = (
    "id",
    "mob_id",
    "archetype",
    "map_id",
    "x",
    "y",
    "hp_ratio",
    "leadership_score",
    "state",
)
# Binary parameters (%b): arrays travel as arrays, not text to parse.
SYNC_TYPED = (
    "SELECT ml.sync_monsters(%b::integer[], %b::integer[], %b::text[], %b::integer[], "
    "%b::integer[], %b::integer[], %b::float8[], %b::float8[], %b)"
)
CYPHER_SEND = (
    "SELECT * FROM cypher('monster_ai', $$ MATCH (a:Monster) WHERE a.id = $from "
    "MATCH (b:Monster) WHERE b.id IN $to "
    "CREATE (a)-[:SIGNALS {signal_type: 'attack_target', content: {threat: 0.9, target_id: 5001}, "
    "priority: 2, sent_at: $at, expires_at: $at}]->(b) RETURN count(*) $$, %s) AS (n agtype)"
)
# Loops over bench_packs (k, leader, followers); the empty loop's cost is subtracted.
IN_DATABASE_LOOPS = """
DO $$
DECLARE
    n integer := (SELECT count(*) FROM bench_packs);
    r record;
    t0 timestamptz;
    base double precision;
    spent double precision;
    step text;
BEGIN
    FOREACH step IN ARRAY ARRAY['lookup', 'send', 'receive', 'vector', 'team'] LOOP
        t0 := clock_timestamp();
        FOR i IN 0 .. n - 1 LOOP
            SELECT * INTO r FROM bench_packs WHERE k = i;
            CASE step
                WHEN 'send' THEN
                    PERFORM ml.send_attack_target_signal(r.leader, 5001, 0.9, r.followers);
                WHEN 'receive' THEN PERFORM * FROM ml.receive_signals(r.followers[1]);
                WHEN 'vector' THEN PERFORM ml.signal_vector(r.followers[1]);
                WHEN 'team' THEN PERFORM * FROM ml.get_monster_team(r.followers[1]);
                ELSE NULL;
            END CASE;
            COMMIT;
        END LOOP;
        spent := extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
        IF step = 'lookup' THEN
            base := spent;
        ELSE
            RAISE NOTICE 'us % %', round((spent - base)::numeric, 1), step;
        END IF;
    END LOOP;
END;
$$
"""
# An index an operator could add for fast Cypher by id (`MATCH (m:Monster) WHERE m.id = $id`); the
# schema leaves it out because it makes every vertex update of a sync non-HOT (bench/RESULTS.md).
MONSTER_ID_IDX = (
    'CREATE UNIQUE INDEX monster_id_idx ON monster_ai."Monster" '
    "(ag_catalog.agtype_access_operator(VARIADIC ARRAY[properties, '\"id\"'::ag_catalog.agtype]))"
)
SEED_STYLE_TEAM = (
    "SELECT * FROM cypher('monster_ai', $$ MATCH (l:Monster)-[:LEADS]->(f:Monster) "
    "WHERE l.id = $id RETURN f.id $$, %s) AS (id agtype)"
)


class RealArray:
    """A real[] encoded once, before timing, in PostgreSQL's binary array format: dumping 64,000
    Python floats costs psycopg about 25 ms, which a C++ game server does not pay."""

    def __init__(self, values: list[float]) -> None:
        header = struct.pack("!iiIii", 1, 0, FLOAT4_OID, len(values), 1)
        self.data = header + b"".join(struct.pack("!if", 4, v) for v in values)


class RealArrayDumper(Dumper):
    format = Format.BINARY
    oid = FLOAT4_ARRAY_OID

    def dump(self, obj: RealArray) -> bytes:
        return obj.data


@dataclass
class Monster:
    id: int
    map_id: int
    x: int
    y: int
    leadership_score: float
    archetype: str


@dataclass
class Timing:
    name: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def url_for(dbname: str, role: str | None = None) -> str:
    admin = urlsplit(load_settings().admin_url)
    user = role or admin.username or "ml_admin"
    password = DEV_PASSWORDS[user] if role else admin.password or ""
    netloc = f"{user}:{password}@{admin.hostname}:{admin.port or 5432}"
    return urlunsplit((admin.scheme, netloc, f"/{dbname}", "", ""))


@contextmanager
def bench_database(keep: bool) -> Iterator[str]:
    with psycopg.connect(load_settings().admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'.encode())
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"'.encode())
    try:
        upgrade(url_for(BENCH_DB))
        yield BENCH_DB
    finally:
        if not keep:
            with psycopg.connect(load_settings().admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'.encode())


def population(rng: random.Random) -> list[Monster]:
    """100 monsters per map in clusters of 5 (cluster centres 40 cells apart: packs, not blobs)."""
    monsters = []
    for map_id in range(1, MAPS + 1):
        for i in range(PER_MAP):
            cluster = i // CLUSTER
            cx, cy = 20 + 40 * (cluster % 5), 20 + 40 * (cluster // 5)
            monsters.append(
                Monster(
                    id=map_id * 1000 + i,
                    map_id=map_id,
                    x=cx + rng.randint(-4, 4),
                    y=cy + rng.randint(-4, 4),
                    leadership_score=round(rng.random(), 3),
                    archetype=rng.choice(ARCHETYPES),
                )
            )
    return monsters


def as_json(monster: Monster, rng: random.Random) -> dict[str, Any]:
    return {
        "id": monster.id,
        "mob_id": 1002,
        "archetype": monster.archetype,
        "map_id": monster.map_id,
        "x": monster.x,
        "y": monster.y,
        "hp_ratio": 1.0,
        "leadership_score": monster.leadership_score,
        # float32-precision features, as the game server would print them
        "state": [float(f"{rng.random():.7g}") for _ in range(64)],
    }


def jitter(monster: Monster, rng: random.Random) -> None:
    """One step in a random direction (never standing still, so the vertex must change)."""
    dx, dy = rng.choice([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy])
    monster.x = max(0, monster.x + dx)
    monster.y = max(0, monster.y + dy)


def timed(name: str, n: int, step: Callable[[int], object], warmup: int = 10) -> Timing:
    """n timed calls of step(0..n-1) after `warmup` untimed ones, step(n..n+warmup-1) (prepared
    statements, caches), with Python's garbage collector paused so that its pauses are not charged
    to the database."""
    for i in range(warmup):
        step(n + i)
    samples = []
    gc.collect()
    gc.disable()
    try:
        for i in range(n):
            start = time.perf_counter_ns()
            step(i)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        gc.enable()
    return Timing(name, samples)


@dataclass
class SyncCalls:
    """Ready-to-send arguments of ml.sync_monsters, built before timing: the figures are the
    database's and the wire's, not Python's JSON and array encoding."""

    json_texts: list[str]
    typed: list[tuple[Any, ...]]


def sync_calls(
    batches: list[list[Monster]], rng: random.Random, n: int, moving: float
) -> SyncCalls:
    calls = SyncCalls([], [])
    for i in range(n):
        batch = batches[i % len(batches)]
        for m in batch:
            if rng.random() < moving:
                jitter(m, rng)
        docs = [as_json(m, rng) for m in batch]
        calls.json_texts.append(json.dumps(docs))
        columns = [[d[k] for d in docs] for k in TYPED_FIELDS[:-1]]
        flat = [v for d in docs for v in d["state"]]  # n * 64, back to back
        calls.typed.append((*columns, RealArray(flat)))
    return calls


def run(rounds: int, keep: bool, seed: int) -> tuple[list[Timing], list[tuple[str, float]]]:
    rng = random.Random(seed)
    monsters = population(rng)
    batches = [monsters[i : i + 1000] for i in range(0, len(monsters), 1000)]
    by_map = [monsters[i : i + PER_MAP] for i in range(0, len(monsters), PER_MAP)]
    with bench_database(keep) as dbname, psycopg.connect(url_for(dbname, "ml_user")) as game:
        game.autocommit = True
        game.adapters.register_dumper(RealArray, RealArrayDumper)
        for batch in batches:  # spawn everyone (and form every map's packs)
            game.execute("SELECT ml.sync_monsters(%s)", (Jsonb([as_json(m, rng) for m in batch]),))
        settle(dbname)
        n_sync = max(10, rounds // 20)
        # Separate calls per row, each moving every monster from where the previous row left it.
        as_json_calls = sync_calls(batches, rng, n_sync + 2, moving=1.0)
        as_typed_calls = sync_calls(batches, rng, n_sync + 2, moving=1.0)
        some = sync_calls(batches, rng, n_sync + 2, moving=0.2)
        packs = game.execute(
            "SELECT t.leader_id, t.follower_ids FROM unnest(%s::integer[]) AS u(id) "
            "CROSS JOIN LATERAL ml.get_monster_team(u.id) AS t WHERE t.role = 'leader'",
            ([m.id for m in monsters],),
        ).fetchall()
        ids = [m.id for m in monsters]

        def select_one(_: int) -> None:
            game.execute("SELECT 1").fetchone()

        def signal_round(i: int) -> None:
            leader, followers = packs[i % len(packs)]
            game.execute(
                "SELECT ml.send_attack_target_signal(%s, %s, %s, %s)",
                (leader, 5001, 0.9, followers),
            ).fetchone()
            game.execute("SELECT * FROM ml.receive_signals(%s)", (followers[0],)).fetchall()
            game.execute("SELECT ml.signal_vector(%s)", (followers[0],)).fetchone()

        def signal_round_pipelined(i: int) -> None:
            """The same three statements in one libpq pipeline: sent together, one Sync, read
            together (what a C++ game server does with PQpipelineSync)."""
            leader, followers = packs[i % len(packs)]
            with game.pipeline():
                send = game.execute(
                    "SELECT ml.send_attack_target_signal(%s, %s, %s, %s)",
                    (leader, 5001, 0.9, followers),
                )
                receive = game.execute("SELECT * FROM ml.receive_signals(%s)", (followers[0],))
                vector = game.execute("SELECT ml.signal_vector(%s)", (followers[0],))
            send.fetchone()
            receive.fetchall()
            vector.fetchone()

        def team(i: int) -> None:
            game.execute("SELECT * FROM ml.get_monster_team(%s)", (ids[i * 7919 % len(ids)],))

        def detect(i: int) -> None:
            leader, followers = packs[i % len(packs)]
            batch = [*followers, leader, ids[i * 7919 % len(ids)]]
            game.execute("SELECT * FROM ml.detect_pack_formation(%s)", (batch,)).fetchall()

        timings = [timed("SELECT 1", rounds, select_one)]
        settle(dbname)
        timings.append(
            timed(
                "sync_monsters jsonb, 1,000 monsters, all moving",
                n_sync,
                lambda i: game.execute(
                    "SELECT ml.sync_monsters(%s::jsonb)", (as_json_calls.json_texts[i],)
                ).fetchone(),
                warmup=2,
            )
        )
        settle(dbname)
        timings.append(
            timed(
                "sync_monsters typed arrays, 1,000, all moving",
                n_sync,
                lambda i: game.execute(SYNC_TYPED, as_typed_calls.typed[i]).fetchone(),
                warmup=2,
            )
        )
        settle(dbname)
        timings.append(
            timed(
                "sync_monsters typed arrays, 1,000, 20% moving",
                n_sync,
                lambda i: game.execute(SYNC_TYPED, some.typed[i]).fetchone(),
                warmup=2,
            )
        )
        settle(dbname)
        timings.append(
            timed(
                "signal round (send + receive + vector), pipelined",
                rounds,
                signal_round_pipelined,
            )
        )
        timings.append(timed("signal round, three round trips (comparison)", rounds, signal_round))
        timings.append(timed("get_monster_team", rounds, team))
        timings.append(timed("detect_pack_formation (6 monsters)", rounds, detect))
        server = in_database(dbname, packs)
        timings.append(reform_maps(game, by_map, rng))
        timings.append(
            cypher_team_lookup(
                dbname, ids, rounds // 4, "followers in Cypher by id, no index (comparison)"
            )
        )
        timings.append(cypher_send(dbname, packs, max(10, rounds // 20)))
        # What an index on the vertex id property would cost a sync (every vertex update becomes
        # non-HOT) and save a Cypher lookup by id. Measured last, on this benchmark's database.
        again = sync_calls(batches, rng, n_sync + 2, moving=1.0)
        with psycopg.connect(url_for(dbname), autocommit=True) as admin:
            admin.execute(MONSTER_ID_IDX.encode())
        settle(dbname)
        timings.append(
            cypher_team_lookup(
                dbname, ids, rounds // 4, "followers in Cypher by id, indexed (comparison)"
            )
        )
        timings.append(
            timed(
                "typed, all moving, with monster_id_idx (comparison)",
                n_sync,
                lambda i: game.execute(SYNC_TYPED, again.typed[i]).fetchone(),
                warmup=2,
            )
        )
    return timings, server


def settle(dbname: str) -> None:
    """What autovacuum does after a burst of writes, done before the next phase rather than during
    it: on two cores a vacuum racing the benchmark would be timed with it."""
    with psycopg.connect(url_for(dbname), autocommit=True) as admin:
        admin.execute("VACUUM ANALYZE")


def reform_maps(
    game: psycopg.Connection[Any], by_map: list[list[Monster]], rng: random.Random
) -> Timing:
    """Every monster of a map takes a step (an untimed sync), then its packs re-form (timed)."""
    samples = []
    for map_monsters in by_map:
        for m in map_monsters:
            jitter(m, rng)
        game.execute(
            "SELECT ml.sync_monsters(%s)", (Jsonb([as_json(m, rng) for m in map_monsters]),)
        )
        start = time.perf_counter_ns()
        game.execute("SELECT ml.form_packs(%s)", ([map_monsters[0].map_id],)).fetchone()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return Timing("re-form one map's packs (100 monsters, all moved)", samples)


def cypher_send(dbname: str, packs: list[tuple[int, list[int]]], n: int) -> Timing:
    """A send's edges written the Cypher way (indexed MATCH, then CREATE), for comparison with
    ml.send_attack_target_signal, which also validates and logs."""
    with psycopg.connect(url_for(dbname), autocommit=True) as admin:

        def create(i: int) -> None:
            leader, followers = packs[i % len(packs)]
            params = {"from": leader, "to": followers, "at": "2020-01-01T00:00:00.000000Z"}
            admin.execute(CYPHER_SEND.encode(), (json.dumps(params),)).fetchall()

        return timed("the same edges by Cypher CREATE (comparison)", n, create)


def cypher_team_lookup(dbname: str, ids: list[int], n: int, name: str) -> Timing:
    """The same lookup as get_monster_team's followers, in Cypher by the leader's id property (the
    seed's style; ml_user may not run Cypher, so as the owner)."""
    with psycopg.connect(url_for(dbname), autocommit=True) as admin:

        def cypher_team(i: int) -> None:
            # The agtype parameter travels as text of unknown type: cypher() casts it.
            params = json.dumps({"id": ids[i * 7919 % len(ids)]})
            admin.execute(SEED_STYLE_TEAM.encode(), (params,)).fetchall()

        return timed(name, n, cypher_team)


def in_database(dbname: str, packs: list[tuple[int, list[int]]]) -> list[tuple[str, float]]:
    """Mean time per call inside the database (a PL/pgSQL loop, one transaction per call): the
    same work as the client-side rows, without the round trips, which on this machine depend on
    whether the client and the backend share a core."""
    with psycopg.connect(url_for(dbname), autocommit=True) as admin:
        admin.execute(
            "CREATE TEMP TABLE bench_packs (k integer PRIMARY KEY, leader integer, "
            "followers integer[])"
        )
        with admin.cursor() as cur:
            cur.executemany(
                "INSERT INTO bench_packs VALUES (%s, %s, %s)",
                [(k, leader, followers) for k, (leader, followers) in enumerate(packs)],
            )
        notices: list[str] = []
        admin.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        admin.execute(IN_DATABASE_LOOPS.encode())
    means = [line.split(" ", 1) for line in notices if line.startswith("us ")]
    return [(name, float(value)) for _, rest in means for value, name in [rest.split(" ", 1)]]


def report(timings: list[Timing]) -> str:
    floor = timings[0].p50
    lines = [
        f"{'operation':<55} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 / SELECT 1':>15}",
        "-" * 96,
    ]
    for t in timings:
        lines.append(
            f"{t.name:<55} {len(t.samples_ms):>6} {t.p50:>8.3f} {t.p99:>8.3f}"
            f" {t.p50 / floor:>15.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="samples per operation")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    timings, server = run(args.rounds, args.keep, args.seed)
    print(report(timings))
    print()
    print("in the database, mean per call (no client round trip):")
    for name, micros in server:
        print(f"  {name:<10} {micros / 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
