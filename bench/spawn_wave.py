"""Ticks in which many monsters spawn at once: `python -m bench.spawn_wave [--quick]`.

A spawn re-forms its map's packs in the sync that brings it (ml.upsert_monsters collects the maps
its insert and update touch and forms them all in one ml.form_packs at the end of the statement:
ml.form_or_defer_packs), so a tick that spawns on many maps pays for every one of them inside the
game server's call. In a fresh benchmark database, as the game server's role, through its own
typed-array call (bench/sql/spawn_sync.sql; every argument encoded before timing, as a C++ server
sends them), this times:

* server start: a new game-server session whose first sync brings every monster (the tables
  emptied before each sample): 1,000 monsters on 50 maps, 2,000 (limits.sync_monsters' round
  figure) on 100 and on 200 maps; then the next tick, every monster a step further ("next tick").
  The session has started its PL/Python before (`SELECT ml.form_packs('{}')`, which forms
  nothing); one more row times the 2,000 on 100 maps as the session's very first call;
* respawn waves into populated maps: a world of 10,000 monsters on 100 maps (100 a map, in groups
  of 5), one call of the tick carrying the 2,000 monsters of 20 maps, all moving a step, of which
  200 or 500 come back: revived (the same ids, hp 0 -> alive: rAthena respawns a mob under its id)
  or spawned under new ids (the game server had despawned the dead); and the same call with
  nobody coming back, a steady tick, for reference.

After each timed sync: `CALL ml.form_dirty_packs()` as the owner, timed ("pg_cron": what pg_cron
runs every second, the deferred formation of maps whose monsters moved and that no sync
re-formed), then the floor, timed: the same call again (after a server start, the next tick's),
which now changes nothing (no move, no spawn, no formation). Prints, per scenario, the sync's
p50 / p99 / max in milliseconds, monsters per second at the median, the median's ratio to the
floor's, the maps the sync re-formed, pg_cron's formation after it and the maps it re-formed;
then the verdict against a 100 ms tick.
"""

from __future__ import annotations

import argparse
import gc
import random
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from bench.common import bench_sql, fresh_database, summarize, table, url_as
from bench.coordination import ARCHETYPES
from config.queries import connect_raw

DB = "ragnarok_ml_bench_spawn"
#: The game server's AI tick: everything of one tick must fit in it.
BUDGET_MS = 100.0
#: Server starts: (monsters in the one sync, maps they spawn on).
STARTS = ((1000, 50), (2000, 100), (2000, 200))
#: The respawn waves' world: 100 maps of 100 monsters; one call of a tick is 20 of those maps.
WORLD_MAPS, PER_MAP, CALL_MAPS = 100, 100, 20
#: Monsters coming back in one call of a tick.
WAVES = (200, 500)
#: Monsters a map's group; groups 40 cells apart (packs, not one blob), 5 groups a row.
GROUP, GROUP_GAP = 5, 40
#: New ids (spawned waves) start here, above every id of the world.
NEW_IDS = 1_000_000
#: PostgreSQL's type oids of the call's arrays and of their elements.
INT4, INT4_ARRAY = 23, 1007
TEXT, TEXT_ARRAY = 25, 1009
FLOAT8, FLOAT8_ARRAY = 701, 1022
FLOAT4, FLOAT4_ARRAY = 700, 1021


class BinaryArray:
    """A one-dimensional array in PostgreSQL's binary format, encoded once before timing: psycopg
    spends about 10 ms dumping a 2,000-monster call's lists, which a C++ game server does not."""

    def __init__(self, oid: int, element_oid: int, items: list[bytes]) -> None:
        self.oid = oid
        header = struct.pack("!iiIii", 1, 0, element_oid, len(items), 1)
        self.data = header + b"".join(struct.pack("!i", len(b)) + b for b in items)

    @classmethod
    def of(cls, kind: str, values: list[Any]) -> BinaryArray:
        if kind == "int4":
            return cls(INT4_ARRAY, INT4, [struct.pack("!i", v) for v in values])
        if kind == "float8":
            return cls(FLOAT8_ARRAY, FLOAT8, [struct.pack("!d", v) for v in values])
        if kind == "float4":
            return cls(FLOAT4_ARRAY, FLOAT4, [struct.pack("!f", v) for v in values])
        return cls(TEXT_ARRAY, TEXT, [str(v).encode() for v in values])


class BinaryArrayDumper(Dumper):
    """Sends a BinaryArray's bytes as they are, under the array's own type."""

    format = Format.BINARY

    def get_key(self, obj: BinaryArray, format: Any) -> Any:
        return (BinaryArray, obj.oid)

    def upgrade(self, obj: BinaryArray, format: Any) -> Dumper:
        dumper = BinaryArrayDumper(BinaryArray)
        dumper.oid = obj.oid
        return dumper

    def dump(self, obj: BinaryArray) -> bytes:
        return obj.data


@dataclass(frozen=True)
class Monster:
    id: int
    map_id: int
    x: int
    y: int
    hp_ratio: float
    leadership_score: float
    archetype: str


def map_monsters(map_id: int, count: int, first_id: int, rng: random.Random) -> list[Monster]:
    """`count` monsters of one map in groups of GROUP around their group's centre."""
    found = []
    for i in range(count):
        group = i // GROUP
        found.append(
            Monster(
                id=first_id + i,
                map_id=map_id,
                x=20 + GROUP_GAP * (group % 5) + rng.randint(-4, 4),
                y=20 + GROUP_GAP * (group // 5) + rng.randint(-4, 4),
                hp_ratio=1.0,
                leadership_score=round(rng.random(), 3),
                archetype=rng.choice(ARCHETYPES),
            )
        )
    return found


def step(monster: Monster, rng: random.Random) -> Monster:
    """One cell in a random direction: every moving monster's vertex changes."""
    dx, dy = rng.choice([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy])
    return replace(monster, x=max(0, monster.x + dx), y=max(0, monster.y + dy))


def respawned(monster: Monster, new_id: int, rng: random.Random) -> Monster:
    """Back alive at a random group centre of its map (rAthena respawns within the spawn area)."""
    group = rng.randrange(PER_MAP // GROUP)
    return replace(
        monster,
        id=new_id,
        x=20 + GROUP_GAP * (group % 5) + rng.randint(-4, 4),
        y=20 + GROUP_GAP * (group // 5) + rng.randint(-4, 4),
        hp_ratio=1.0,
    )


class Calls:
    """The game server's call for a list of monsters, its nine arrays encoded before timing. The
    64 floats of n monsters are encoded once per n: what a state holds does not change a sync's
    work (it is written, never mirrored)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.states: dict[int, BinaryArray] = {}

    def __call__(self, monsters: list[Monster]) -> tuple[BinaryArray, ...]:
        n = len(monsters)
        if n not in self.states:
            floats = [float(f"{self.rng.random():.7g}") for _ in range(n * 64)]
            self.states[n] = BinaryArray.of("float4", floats)
        return (
            BinaryArray.of("int4", [m.id for m in monsters]),
            BinaryArray.of("int4", [1002] * n),
            BinaryArray.of("text", [m.archetype for m in monsters]),
            BinaryArray.of("int4", [m.map_id for m in monsters]),
            BinaryArray.of("int4", [m.x for m in monsters]),
            BinaryArray.of("int4", [m.y for m in monsters]),
            BinaryArray.of("float8", [m.hp_ratio for m in monsters]),
            BinaryArray.of("float8", [m.leadership_score for m in monsters]),
            self.states[n],
        )


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's garbage collector off while a statement is timed: its pauses are not the
    database's."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ms(call: Callable[[], object]) -> float:
    with paused_gc():
        start = time.perf_counter_ns()
        call()
        return (time.perf_counter_ns() - start) / 1e6


@dataclass
class Samples:
    """One scenario's timings (ms): the sync, pg_cron's formation after it, the floor, and for a
    server start the tick after it."""

    name: str
    monsters: int
    maps: int
    sync: list[float] = field(default_factory=list)
    deferred: list[float] = field(default_factory=list)
    deferred_maps: list[int] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    next_tick: list[float] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        s, f, d = summarize(self.sync), summarize(self.floor), summarize(self.deferred)
        return {
            "scenario": self.name,
            "n": len(self.sync),
            "maps formed": self.maps,
            "p50 ms": s["p50"],
            "p99 ms": s["p99"],
            "max ms": s["max"],
            "monsters/s": self.monsters / s["p50"] * 1e3,
            "p50 / floor": s["p50"] / f["p50"],
            "floor p50": f["p50"],
            "next tick max": max(self.next_tick) if self.next_tick else "",
            "pg_cron p50": d["p50"],
            "pg_cron max": d["max"],
            "pg_cron maps": max(self.deferred_maps),
        }


class Bench:
    """The game server's connection and the owner's (pg_cron's work, resets, VACUUM)."""

    def __init__(self, dbname: str, rng: random.Random) -> None:
        self.admin_url, self.game_url = url_as(dbname), url_as(dbname, "ml_user")
        self.admin = psycopg.connect(self.admin_url, autocommit=True)
        self.game = self.connect_game()
        self.sync_sql = bench_sql("spawn_sync").encode()
        self.dirty_sql = bench_sql("dirty_maps").encode()
        self.calls = Calls(rng)

    def connect_game(self) -> psycopg.Connection[Any]:
        conn = connect_raw(self.game_url, autocommit=True)
        conn.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
        return conn

    def restart_game_server(self) -> None:
        """A new session, as a restarted game server opens: nothing of the old one's caches."""
        self.game.close()
        self.game = self.connect_game()

    def close(self) -> None:
        self.game.close()
        self.admin.close()

    def sync(self, monsters: list[Monster]) -> float:
        """The game server's call with these monsters; its wall time in ms."""
        args = self.calls(monsters)
        return ms(lambda: self.game.execute(self.sync_sql, args).fetchone())

    def pg_cron(self) -> tuple[float, int]:
        """`CALL ml.form_dirty_packs()` as pg_cron runs it: its wall time in ms, and the maps it
        had to re-form."""
        row = self.admin.execute(self.dirty_sql).fetchone()
        spent = ms(lambda: self.admin.execute("CALL ml.form_dirty_packs()"))
        return spent, int(row[0]) if row else 0

    def settle(self) -> None:
        """What autovacuum does after a burst of writes, done before the next sample rather than
        during it: on two cores a vacuum racing the benchmark would be timed with it."""
        self.admin.execute("VACUUM ANALYZE")

    def despawn(self, ids: list[int]) -> None:
        """Monsters leave (their vertices, edges and maps' packs with them), as the owner."""
        self.admin.execute("DELETE FROM ml.monsters WHERE id = ANY (%s)", (ids,))

    def measure(self, samples: Samples, monsters: list[Monster]) -> None:
        """The timed call, pg_cron's formation after it."""
        samples.sync.append(self.sync(monsters))
        spent, maps = self.pg_cron()
        samples.deferred.append(spent)
        samples.deferred_maps.append(maps)


def server_start(
    bench: Bench, count: int, maps: int, n: int, rng: random.Random, cold: bool = False
) -> Samples:
    """A restarted game server's first sync: `count` monsters on `maps` maps into empty tables.
    Its new session first starts its PL/Python (one call that forms nothing) unless `cold`: then
    the sync is the session's first call and pays that start too."""
    world = [
        m
        for map_id in range(1, maps + 1)
        for m in map_monsters(map_id, count // maps, map_id * 1000, rng)
    ]
    ids = [m.id for m in world]
    first = ", the session's first call" if cold else ""
    samples = Samples(f"server start, {count:,} on {maps} maps{first}", count, maps)
    for _ in range(n):
        bench.despawn(ids)
        bench.pg_cron()  # the emptied maps' bookkeeping rows go, as after a real restart
        bench.settle()
        bench.restart_game_server()
        if not cold:
            bench.game.execute("SELECT ml.form_packs('{}')")
        bench.measure(samples, world)
        moved = [step(m, rng) for m in world]
        samples.next_tick.append(bench.sync(moved))
        samples.floor.append(bench.sync(moved))
    bench.despawn(ids)
    bench.pg_cron()
    return samples


class World:
    """The respawn waves' populated world and the one call of a tick that the waves land in."""

    def __init__(self, bench: Bench, rng: random.Random) -> None:
        self.bench, self.rng = bench, rng
        maps = [map_monsters(m, PER_MAP, m * 1000, rng) for m in range(1, WORLD_MAPS + 1)]
        for first in range(0, WORLD_MAPS, CALL_MAPS):  # spawn everyone, a call's maps at a time
            bench.sync([m for ms in maps[first : first + CALL_MAPS] for m in ms])
        self.call = [m for ms in maps[:CALL_MAPS] for m in ms]
        self.next_id = NEW_IDS

    def chosen(self, wave: int) -> set[int]:
        """`wave` places of the call, the same number on each of its maps."""
        return {
            k * PER_MAP + j
            for k in range(CALL_MAPS)
            for j in self.rng.sample(range(PER_MAP), wave // CALL_MAPS)
        }

    def moved(self, back: set[int], new_ids: bool) -> list[Monster]:
        """The call with everyone a step further and the monsters at `back` respawned."""
        call = []
        for i, m in enumerate(self.call):
            if i in back:
                self.next_id += new_ids
                call.append(respawned(m, self.next_id if new_ids else m.id, self.rng))
            else:
                call.append(step(m, self.rng))
        self.call = call
        return call

    def scenario(self, name: str, wave: int, new_ids: bool, n: int) -> Samples:
        """n ticks of the call, each bringing `wave` monsters back (0: a steady tick)."""
        samples = Samples(name, len(self.call), CALL_MAPS if wave else 0)
        for i in range(n + 1):
            back = self.chosen(wave) if wave else set()
            if back and new_ids:  # died and despawned since the last tick
                self.bench.despawn([self.call[k].id for k in back])
            elif back:  # died: synced once with hp 0, out of their packs
                self.call = [
                    replace(m, hp_ratio=0.0) if k in back else m for k, m in enumerate(self.call)
                ]
                self.bench.sync(self.call)
            self.bench.pg_cron()
            self.bench.settle()
            call = self.moved(back, new_ids)
            if i == 0:
                self.bench.sync(call)  # warm-up: this session's plans with this world's sizes
                continue
            self.bench.measure(samples, call)
            samples.floor.append(self.bench.sync(call))
        return samples


def verdict(samples: Samples) -> str:
    worst = max(samples.sync)
    held = "within" if worst <= BUDGET_MS else "OVER"
    after = f", the next tick max {max(samples.next_tick):.1f} ms" if samples.next_tick else ""
    return (
        f"{samples.name}: {held} the {BUDGET_MS:.0f} ms tick (max {worst:.1f} ms, p99 "
        f"{summarize(samples.sync)['p99']:.1f}){after}; pg_cron's formation after it max "
        f"{max(samples.deferred):.1f} ms"
    )


def run(n: int, seed: int) -> list[Samples]:
    rng = random.Random(seed)
    fresh_database(DB)
    bench = Bench(DB, rng)
    try:
        results = [server_start(bench, count, maps, n, rng) for count, maps in STARTS]
        results.append(server_start(bench, *STARTS[1], n, rng, cold=True))
        world = World(bench, rng)
        call = f"{PER_MAP * CALL_MAPS:,} on {CALL_MAPS} maps"
        results.append(world.scenario(f"steady tick, {call}, all moving", 0, False, n))
        for wave in WAVES:
            results.append(world.scenario(f"respawn {wave} revived, {call}", wave, False, n))
        results.append(world.scenario(f"respawn {WAVES[-1]} new ids, {call}", WAVES[-1], True, n))
    finally:
        bench.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 samples a scenario (a smoke run)")
    parser.add_argument("--samples", type=int, default=30, help="samples a scenario (default 30)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    results = run(5 if args.quick else args.samples, args.seed)
    rows = [r.row() for r in results]
    print(table(rows, list(rows[0])))
    print()
    for r in results:
        print(verdict(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
