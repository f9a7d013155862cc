"""End-to-end decision latency and throughput, as a game server sees them.

    python -m bench.decisions [--quick] [--only NAME ...]

In a fresh benchmark database with the production-size pack actor deployed (hidden 256, GRU; the
legacy gateway's requests go to a combat policy of the same width without GRU) and a real
`python -m worker`, a game-server client calls `ml.request_pack_actions` for a pack of 5 and waits
on `ml_decisions`; with 1 and with 50 concurrent clients (each its own connection, warmed up), in
the JSON form and, at 50, in the typed form too; then the same 50 clients sharing 4 connections
(each takes one for its submit only), as a game server's pool would. In the same run, the floor:
the same round trip through a queue whose worker only echoes. Then batched requests of 256
monsters (agent decisions per second) in the three forms: packed float32 bytes (the fastest),
typed arrays and JSON, from 8 clients, and packed from 16 (more batches waiting per worker
round), each reading its answers back; and the legacy gateway's exact SQL at fixed offered rates up
to 1,000 monsters per tick at 10 ticks per second (bench/legacy_gateway.py: share answered within
its 15 ms), each beside its floor: the same SQL at the same rate against tables that answer every
request inside its INSERT, what the protocol alone costs on this machine.

Inline (serving.mode 'inline', no worker running; docs/inline_serving.md): the same packs decided
in the caller's own statement, `ml.decide_pack` (typed; JSON at one client) and
`ml.decide_pack_packed`, from 1 and from 50 clients (each its own connection, warmed up: its first
decision loads ONNX Runtime), beside the echo floor and the floor of a statement that returns the
same rows decided by nothing (bench/sql/inline_floor.sql); batches of 256 packed from 1 and 2
clients (each its own monsters, as two map servers); a fresh backend's first decision against its
steady ones, and its memory (RSS from /proc) before and after; and the legacy gateway at the same
offered rates answered inside its INSERT, each beside its floor over the same window. Each case
sets serving.mode itself. Then the issue's targets, met or not, with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from bench.common import CpuMeter, bench_sql, fresh_database, summarize, table, url_as
from bench.legacy_gateway import FLOOR, PRODUCT, WARMUP_S, run_rate
from config.model_types import ACTION_DIMS, COMBAT, PACK_COORDINATION

#: Its own database: bench.coordination's is "ragnarok_ml_bench", and each drops its own at start.
DB = "ragnarok_ml_bench_decisions"
PACK = 5
#: Untimed round trips per client connection before the timed ones.
WARMUP_CALLS = 5
#: Monsters per batched request.
BATCH = 256
#: The legacy gateway's load: 1,000 monsters at 10 ticks a second is 10,000 requests a second (the
#: issue's target); the lower rates show what this machine carries.
LEGACY_RATES = (1_000, 1_500, 2_000, 10_000)
LEGACY_MONSTERS = 1_000
#: The gateway's pool: 16 connections, and 64 (more sessions than two cores serve well).
LEGACY_POOLS = (16, 64)
TYPED_REQUEST = "SELECT ml.request_pack_actions($1::int[], $2::text[], $3::real[])"
PACKED_REQUEST = "SELECT ml.request_pack_actions_packed($1::int[], $2::text[], $3::bytea)"
TYPED_DECIDE = "SELECT * FROM ml.decide_pack($1::int[], $2::text[], $3::real[])"
PACKED_DECIDE = "SELECT * FROM ml.decide_pack_packed($1::int[], $2::text[], $3::bytea)"
JSON_DECIDE = "SELECT * FROM ml.decide_pack($1::jsonb)"
SET_MODE = "UPDATE ml.config SET value = to_jsonb(%s::text) WHERE key = 'serving.mode'"
#: Packs placed: 2 x 52 packs of 5 (520 monsters), so that two clients' batches of BATCH are
#: distinct monsters, as two map servers' are (one batch's monsters twice at once would skip
#: half of the recurrent-memory writes, ml.write_monster_memory).
PACKS = 104
#: Fresh connections whose first inline decision and memory are measured, one after another.
STARTUP_PROBES = 3
#: A backend's first inline decision when none was measured (this run's --only left it out):
#: 179-211 ms on the development machine.
DEFAULT_STARTUP_S = 0.2
#: The issue's targets on this machine.
TARGET_PACK_P99_MS = 1.0
TARGET_LEGACY_RATE = 10_000
TARGET_LEGACY_SHARE = 0.80
TARGET_LEGACY_WITHIN_PCT = 99.9
TARGET_BATCH_DECISIONS_S = 200_000


class Waiter:
    """One LISTEN connection; futures resolved by job id as answers arrive."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.futures: dict[int, asyncio.Future[float]] = {}
        self.early: dict[int, float] = {}
        self.conn: asyncpg.Connection | None = None

    async def start(self, url: str) -> None:
        self.conn = await asyncpg.connect(url)
        await self.conn.add_listener(self.channel, self._on_note)

    def _on_note(self, _c: Any, _p: int, _ch: str, payload: str) -> None:
        now = time.perf_counter()
        job = int(json.loads(payload)["job_id"])
        future = self.futures.pop(job, None)
        if future is None:
            self.early[job] = now  # answered before the client registered: keep the time
        elif not future.done():
            future.set_result(now)

    def expect(self, job: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if job in self.early:
            future.set_result(self.early.pop(job))
        else:
            self.futures[job] = future
        return future

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


Submit = Callable[[asyncpg.Connection, int], Awaitable[int]]
#: Reads a job's answer once notified (a batch too large for a NOTIFY payload is read back).
Read = Callable[[asyncpg.Connection, int], Awaitable[object]]


async def round_trips(
    url: str,
    channel: str,
    submit: Submit,
    clients: int,
    per_client: int,
    connections: int | None = None,
    worker_pid: int | None = None,
    read: Read | None = None,
) -> tuple[list[float], float, dict[str, float]]:
    """Latencies (ms) of `clients` x `per_client` round trips, the wall time of the run, and the
    CPU milliseconds per round trip of the database, the worker (`worker_pid`) and the clients.

    `connections` (default: one per client) are shared by the clients: a client takes a free one
    for its submit only, then waits for its answer without it, as a game server's few pooled
    connections serve all its map threads. Each connection first makes WARMUP_CALLS untimed round
    trips, as a running game server's have: a new session pays once for its PL/Python interpreter
    and its cached plans (tens of milliseconds; with 50 new sessions at once, a second of queueing
    on two cores)."""
    waiter = Waiter(channel)
    await waiter.start(url)
    conns = [await asyncpg.connect(url) for _ in range(connections or clients)]
    free: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
    for conn in conns:
        free.put_nowait(conn)
    latencies: list[float] = []

    async def client(index: int, calls: int, timed: bool) -> None:
        for i in range(calls):
            started = time.perf_counter()
            conn = await free.get()
            try:
                job = await submit(conn, index * per_client + i)
            finally:
                free.put_nowait(conn)
            answered = await asyncio.wait_for(waiter.expect(job), timeout=30)
            if read is not None:
                conn = await free.get()
                try:
                    await read(conn, job)
                finally:
                    free.put_nowait(conn)
                answered = time.perf_counter()
            if timed:
                latencies.append((answered - started) * 1e3)

    await asyncio.gather(*(client(k, WARMUP_CALLS, False) for k in range(max(clients, len(conns)))))
    meter = CpuMeter(worker_pid)
    began = time.perf_counter()
    await asyncio.gather(*(client(k, per_client, True) for k in range(clients)))
    wall = time.perf_counter() - began
    cpu = meter.per_job_ms(len(latencies))
    for conn in conns:
        await conn.close()
    await waiter.close()
    return latencies, wall, cpu


async def echo_worker(url: str, stop: asyncio.Event) -> None:
    """The floor's worker: wake on NOTIFY, claim, echo, answer + NOTIFY. Nothing else."""
    conn = await asyncpg.connect(url)
    listen = await asyncpg.connect(url)
    wake = asyncio.Event()
    await listen.add_listener("bench_echo_jobs", lambda *_: wake.set())
    claim, answer = bench_sql("echo_claim"), bench_sql("echo_answer")
    while not stop.is_set():
        wake.clear()
        rows = await conn.fetch(claim)
        if rows:
            await conn.fetch(answer, [r["id"] for r in rows], [r["payload"] for r in rows])
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=0.2)
    await conn.close()
    await listen.close()


def pack_request(monster_ids: list[int], rng: np.random.Generator) -> str:
    return json.dumps(
        {
            "monsters": [
                {
                    "id": m,
                    "archetype": "aggressive",
                    "state": rng.uniform(-1, 1, 64).round(4).tolist(),
                }
                for m in monster_ids
            ]
        }
    )


async def setup(admin_url: str, packs: int) -> None:
    """Deploy a production-size pack actor and combat policy and place `packs` packs of 5,
    each on its own map."""
    import psycopg
    import torch

    from models.export.onnx import export_actor
    from models.export.registry import register_actor_sync
    from models.networks.ctde import DecentralizedActor

    actor = DecentralizedActor().eval()  # the seed's sizes: hidden 256 with a GRU
    # The legacy gateway's combat policy at the same width, without GRU (it answers the gateway).
    # An untrained network's near-uniform outputs sit at the registry's 99% INT8 agreement bar
    # (seeds 0 and 2 give 98.9%); this seed's passes it.
    torch.manual_seed(1)
    combat = DecentralizedActor(action_dim=ACTION_DIMS[COMBAT], use_gru=False).eval()
    rng = np.random.default_rng(0)
    with psycopg.connect(admin_url) as conn:
        for model_type, network in ((PACK_COORDINATION, actor), (COMBAT, combat)):
            model = register_actor_sync(
                conn,
                export_actor(network),
                archetype="aggressive",
                version="bench",
                model_type=model_type,
            )
            conn.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (model,))
        conn.execute(bench_sql("echo_setup").encode())
        conn.execute(bench_sql("legacy_floor").encode())
    game = await asyncpg.connect(url_as(DB, "ml_user"))
    monsters = [
        {
            "id": 1000 + 10 * p + k,
            "mob_id": 1002,
            "archetype": "aggressive",
            "map_id": p,
            "x": 100 + k,
            "y": 100,
            "hp_ratio": 1.0,
            "leadership_score": 0.9 - 0.1 * k,
            "state": rng.uniform(-1, 1, 64).round(4).tolist(),
        }
        for p in range(packs)
        for k in range(PACK)
    ]
    for start in range(0, len(monsters), 1000):
        await game.fetchval(
            "SELECT ml.sync_monsters($1::jsonb)", json.dumps(monsters[start : start + 1000])
        )
    await game.close()


def against_floor(product: Mapping[str, float], floor: Mapping[str, float]) -> dict[str, float]:
    """The product's legacy figures against the floor's at the same rate and pool: what it
    serves, and the machine's CPU it spends per request."""
    return {
        "served / floor": product["served/s"] / floor["served/s"],
        "CPU / floor": product["CPU ms/req"] / floor["CPU ms/req"],
    }


def start_worker(url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, WORKER_DATABASE_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--no-training", "--log-level", "WARNING"], env=env
    )


def set_mode(admin_url: str, mode: str) -> None:
    """serving.mode for the next case: 'inline' (decided in the caller's statement) or 'worker'
    (the queue; ml.decide_pack refused, the gateway's INSERT only queued)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(SET_MODE, (mode,))


#: /proc/<pid>/status fields read for a backend's memory (kB there, MB here): VmRSS resident in
#: all, VmHWM its peak; RssAnon the backend's own heap (Python, ONNX Runtime's arenas), RssFile the
#: libraries' pages (shared with every backend that maps them), RssShmem the shared buffers touched.
MEMORY_FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


def backend_memory(pid: int) -> dict[str, float]:
    """A backend's memory in MB. The server runs under chroot but in the host's PID namespace,
    so pg_backend_pid() is the host's pid and its /proc entry is readable here."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in MEMORY_FIELDS:
            found[key] = int(value.split()[0]) / 1024
    return found


Call = Callable[[asyncpg.Connection, int, int], Awaitable[Sequence[asyncpg.Record]]]


async def fetch_rows(conn: asyncpg.Connection, statement: str, *args: object) -> Sequence[Any]:
    """A statement's rows (asyncpg's own fetch is untyped)."""
    found: Sequence[Any] = await conn.fetch(statement, *args)
    return found


def check_answered(rows: Sequence[asyncpg.Record], monsters: int) -> None:
    """A decision the benchmark times must be a model's: 255 with a reason (no model deployed,
    ONNX Runtime missing) would time the refusal."""
    if len(rows) != monsters:
        raise RuntimeError(f"expected {monsters} rows, got {len(rows)}")
    refused = [r for r in rows if r["model_version"] is None]
    if refused:
        raise RuntimeError(f"inline decision not made by a model: {refused[0]['reason']}")


async def warm(conns: Sequence[asyncpg.Connection], call: Call, monsters: int) -> None:
    """WARMUP_CALLS untimed calls per connection, all at once: a backend's first decision loads
    ONNX Runtime and the sessions, as a game server's long-open connections did long ago."""

    async def one(k: int) -> None:
        for i in range(WARMUP_CALLS):
            check_answered(await call(conns[k], k, i), monsters)

    await asyncio.gather(*(one(k) for k in range(len(conns))))


async def inline_round_trips(
    conns: Sequence[asyncpg.Connection], call: Call, clients: int, per_client: int
) -> tuple[list[float], float, dict[str, float]]:
    """Latencies (ms) of `clients` x `per_client` statements (client k on conns[k]; the answer is
    in the statement's rows), the wall time, and the CPU milliseconds per statement by owner."""
    latencies: list[float] = []

    async def client(k: int) -> None:
        for i in range(per_client):
            started = time.perf_counter()
            await call(conns[k], k, i)
            latencies.append((time.perf_counter() - started) * 1e3)

    meter = CpuMeter(None)
    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - began
    return latencies, wall, meter.per_job_ms(len(latencies))


async def backend_startup(
    game: str, admin: str, call: Call, steady_calls: int
) -> tuple[list[dict[str, object]], float]:
    """Per fresh connection (STARTUP_PROBES, one after another): its first inline decision (the
    backend bootstraps PL/Python's modules, imports ONNX Runtime and loads the deployed models'
    sessions) against its steady ones, and its memory before and after. Then one superuser
    connection splits a first decision in three. Returns the rows and the median first decision
    in seconds."""
    rows: list[dict[str, object]] = []
    firsts: list[float] = []
    for probe in range(STARTUP_PROBES):
        conn = await asyncpg.connect(game)
        pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
        before = backend_memory(pid)
        started = time.perf_counter()
        check_answered(await call(conn, probe, 0), PACK)
        first_ms = (time.perf_counter() - started) * 1e3
        after_first = backend_memory(pid)
        steady: list[float] = []
        for i in range(steady_calls):
            started = time.perf_counter()
            await call(conn, probe, i + 1)
            steady.append((time.perf_counter() - started) * 1e3)
        after = backend_memory(pid)
        await conn.close()
        stats = summarize(steady)
        firsts.append(first_ms)
        rows.append(
            {
                "connection": f"fresh #{probe + 1}",
                "first ms": first_ms,
                "steady p50": stats["p50"],
                "steady p99": stats["p99"],
                "first / p50": first_ms / stats["p50"],
                "RSS before MB": before["VmRSS"],
                "after 1st": after_first["VmRSS"],
                f"after {steady_calls}": after["VmRSS"],
                "growth MB": after["VmRSS"] - before["VmRSS"],
                "anon +": after["RssAnon"] - before["RssAnon"],
                "file +": after["RssFile"] - before["RssFile"],
                "shmem +": after["RssShmem"] - before["RssShmem"],
                "peak MB": after["VmHWM"],
            }
        )
    # The first decision's parts, in a fresh superuser backend (the game server's role may not
    # call these): PL/Python with the product's modules; numpy and ONNX Runtime imported
    # (ml.inline_runtime); then the first decision (the sessions, the statements' plans).
    conn = await asyncpg.connect(admin)
    parts: dict[str, object] = {"connection": "superuser: split"}
    for name, statement in (
        ("bootstrap ms", "SELECT ml.plpython_bootstrap()"),
        ("import ms", "SELECT * FROM ml.inline_runtime()"),
    ):
        started = time.perf_counter()
        await conn.fetch(statement)
        parts[name] = (time.perf_counter() - started) * 1e3
    started = time.perf_counter()
    await call(conn, 0, 0)
    parts["sessions + 1st ms"] = (time.perf_counter() - started) * 1e3
    await conn.close()
    return [*rows, parts], float(np.median(firsts)) / 1e3


def inline_warmup_s(connections: int, startup_s: float) -> float:
    """The start of an inline legacy run to leave out: pgbench opens `connections` new backends
    at once, each importing ONNX Runtime at its first request (startup_s of CPU each, on the
    machine's cores), and then works off the requests due meanwhile. Five times the start-ups'
    CPU, and the usual: with 64 connections at 1,000 requests a second, twice that (13.6 s) still
    left a backlog (wait p99 753 ms, 71% within 15 ms), 30 s none (2.2 ms, 99.4%)."""
    return WARMUP_S + 5 * connections * startup_s / (os.cpu_count() or 1)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


async def run(quick: bool, only: list[str]) -> None:
    def wanted(name: str) -> bool:
        return not only or any(o in name for o in only)

    admin = fresh_database(DB)
    game, worker_url = url_as(DB, "ml_user"), url_as(DB, "ml_worker")
    packs = PACKS
    await setup(admin, packs)
    rng = np.random.default_rng(2)
    requests = [pack_request([1000 + 10 * p + k for k in range(PACK)], rng) for p in range(packs)]
    big = [
        json.dumps(
            {
                "monsters": [
                    {
                        "id": 1000 + 10 * (m // PACK) + m % PACK,
                        "archetype": "aggressive",
                        "state": rng.uniform(-1, 1, 64).round(4).tolist(),
                    }
                    for m in range(BATCH)
                ]
            }
        )
    ]

    async def submit_pack(conn: asyncpg.Connection, i: int) -> int:
        return int(
            await conn.fetchval("SELECT ml.request_pack_actions($1::jsonb)", requests[i % packs])
        )

    async def submit_batch(conn: asyncpg.Connection, i: int) -> int:
        return int(await conn.fetchval("SELECT ml.request_pack_actions($1::jsonb)", big[0]))

    pack_states = [rng.uniform(-1, 1, (PACK, 64)).astype(np.float32).tolist() for _ in range(packs)]
    pack_ids = [[1000 + 10 * p + k for k in range(PACK)] for p in range(packs)]
    pack_packed = [np.asarray(st, dtype="<f4").tobytes() for st in pack_states]

    async def submit_typed_pack(conn: asyncpg.Connection, i: int) -> int:
        ids = [1000 + 10 * (i % packs) + k for k in range(PACK)]
        return int(
            await conn.fetchval(TYPED_REQUEST, ids, ["aggressive"] * PACK, pack_states[i % packs])
        )

    # The same batch in the typed form, the fast path for large batches (DESIGN.md): no JSON
    # text to parse on either side.
    batch = json.loads(big[0])["monsters"]
    typed = (
        [m["id"] for m in batch],
        [m["archetype"] for m in batch],
        np.asarray([m["state"] for m in batch], dtype=np.float32).tolist(),
    )

    async def submit_typed_batch(conn: asyncpg.Connection, i: int) -> int:
        return int(await conn.fetchval(TYPED_REQUEST, *typed))

    # The same batch packed: float32 bytes as a game server holds its states in memory.
    packed = (typed[0], typed[1], np.asarray(typed[2], dtype="<f4").tobytes())

    async def submit_packed_batch(conn: asyncpg.Connection, i: int) -> int:
        return int(await conn.fetchval(PACKED_REQUEST, *packed))

    # A batch's answer does not fit in a NOTIFY payload: the game server reads it back, typed
    # rows for the typed form, the JSON document for the JSON form.
    async def read_typed(conn: asyncpg.Connection, job: int) -> object:
        return await fetch_rows(conn, "SELECT * FROM ml.decision_actions($1)", job)

    async def read_json(conn: asyncpg.Connection, job: int) -> object:
        return json.loads(await conn.fetchval("SELECT ml.decision_result($1)::text", job))

    echo_payload = json.dumps({"monsters": [{"id": k, "action": 3} for k in range(PACK)]})

    async def submit_echo(conn: asyncpg.Connection, i: int) -> int:
        return int(await conn.fetchval(bench_sql("echo_submit"), echo_payload))

    # Inline: client k's i-th call decides the pack (k + clients * i) mod packs, so that the
    # clients' calls at one moment are different packs (a pack is one map's, decided by one
    # client at a time); `clients` is bound per case below.
    def inline_pack(clients: int, k: int, i: int) -> int:
        return (k + clients * i) % packs

    def typed_decide(clients: int) -> Call:
        async def call(conn: asyncpg.Connection, k: int, i: int) -> Sequence[asyncpg.Record]:
            p = inline_pack(clients, k, i)
            return await fetch_rows(
                conn, TYPED_DECIDE, pack_ids[p], ["aggressive"] * PACK, pack_states[p]
            )

        return call

    def packed_decide(clients: int) -> Call:
        async def call(conn: asyncpg.Connection, k: int, i: int) -> Sequence[asyncpg.Record]:
            p = inline_pack(clients, k, i)
            return await fetch_rows(
                conn, PACKED_DECIDE, pack_ids[p], ["aggressive"] * PACK, pack_packed[p]
            )

        return call

    def json_decide(clients: int) -> Call:
        async def call(conn: asyncpg.Connection, k: int, i: int) -> Sequence[asyncpg.Record]:
            return await fetch_rows(conn, JSON_DECIDE, requests[inline_pack(clients, k, i)])

        return call

    inline_floor_sql = bench_sql("inline_floor")

    def floor_statement(clients: int) -> Call:
        async def call(conn: asyncpg.Connection, k: int, i: int) -> Sequence[asyncpg.Record]:
            p = inline_pack(clients, k, i)
            return await fetch_rows(
                conn, inline_floor_sql, pack_ids[p], ["aggressive"] * PACK, pack_packed[p]
            )

        return call

    # Batches inline: client k (of 2) decides the monsters of packs 52k to 52k + 51, the first
    # BATCH of them, every call: two map servers' batches, no monster in both.
    half = packs // 2
    batch_args = [
        (
            [1000 + 10 * p + j for p in range(k * half, (k + 1) * half) for j in range(PACK)][
                :BATCH
            ],
            ["aggressive"] * BATCH,
            rng.uniform(-1, 1, (BATCH, 64)).astype("<f4").tobytes(),
        )
        for k in range(2)
    ]

    async def packed_batch_decide(
        conn: asyncpg.Connection, k: int, i: int
    ) -> Sequence[asyncpg.Record]:
        return await fetch_rows(conn, PACKED_DECIDE, *batch_args[k])

    n1, n50 = (300, 40) if quick else (2000, 200)
    # Batches: 1,200 per scenario, a few seconds each (400 took about one, and the figures of
    # one run to the next moved by 10%).
    n_batch = max(n50 * 3 // 4, 10)
    n_inline_batch = 100 if quick else 1200
    legacy_seconds = 4 if quick else 10
    rows: list[dict[str, object]] = []
    legacy: list[Mapping[str, object]] = []
    startup_rows: list[dict[str, object]] = []
    pool_memory: dict[str, float] = {}

    def add_row(
        name: str,
        latencies: list[float],
        wall: float,
        cpu: Mapping[str, float] | None,
        monsters_per_job: int,
        floor: list[float] | None,
        statement_floor: list[float] | None = None,
    ) -> None:
        stats = summarize(latencies)
        jobs_per_s = len(latencies) / wall if wall else ""
        rows.append(
            {
                "scenario": name,
                "n": int(stats["n"]),
                "p50 ms": stats["p50"],
                "p99 ms": stats["p99"],
                "max ms": stats["max"],
                "jobs/s": jobs_per_s,
                "decisions/s": jobs_per_s * monsters_per_job if wall else "",
                "p50 / floor": stats["p50"] / summarize(floor)["p50"] if floor else "",
                "p50 / stmt": (
                    stats["p50"] / summarize(statement_floor)["p50"] if statement_floor else ""
                ),
                "CPU ms/job db": cpu["database"] if cpu else "",
                "worker": cpu["worker"] if cpu else "",
                "clients": cpu["clients"] if cpu else "",
            }
        )

    # The echo floor first, nothing else running.
    stop = asyncio.Event()
    echo = asyncio.create_task(echo_worker(url_as(DB, "ml_worker"), stop))
    floor1, floor1_wall, _ = await round_trips(game, "bench_echo_done", submit_echo, 1, n1)
    floor50, floor50_wall, _ = await round_trips(game, "bench_echo_done", submit_echo, 50, n50)
    stop.set()
    await echo

    # Inline: serving.mode 'inline', no worker running.
    startup_s = DEFAULT_STARTUP_S
    if wanted("inline backend start-up"):
        set_mode(admin, "inline")
        startup_rows, startup_s = await backend_startup(
            game, admin, typed_decide(1), 100 if quick else 500
        )
    # (scenario, clients, calls per client, call, monsters per call, echo floor, statement
    # floor's clients: None for none)
    inline_cases: list[tuple[str, int, int, Call, int, list[float] | None, int | None]] = [
        ("inline pack of 5 typed, 1 client", 1, n1, typed_decide(1), PACK, floor1, 1),
        ("inline pack of 5 packed, 1 client", 1, n1, packed_decide(1), PACK, floor1, 1),
        ("inline pack of 5 JSON, 1 client", 1, n1, json_decide(1), PACK, floor1, 1),
        ("inline pack of 5 typed, 50 clients", 50, n50, typed_decide(50), PACK, floor50, 50),
        ("inline pack of 5 packed, 50 clients", 50, n50, packed_decide(50), PACK, floor50, 50),
        ("inline batch of 256 packed, 1 client", 1, n_inline_batch, packed_batch_decide, BATCH,
         None, None),
        ("inline batch of 256 packed, 2 clients", 2, n_inline_batch // 2, packed_batch_decide,
         BATCH, None, None),
    ]  # fmt: skip
    selected = [case for case in inline_cases if wanted(case[0])]
    if selected:
        # One connection per client, all opened and warmed first (each backend's first decision
        # loads ONNX Runtime), shared by the cases: client k is connection k in each.
        pool = [await asyncpg.connect(game) for _ in range(max(c[1] for c in selected))]
        try:
            set_mode(admin, "inline")
            await warm(pool, typed_decide(len(pool)), PACK)
            memory = [
                backend_memory(int(await c.fetchval("SELECT pg_backend_pid()"))) for c in pool
            ]
            pool_memory = {
                "backends": float(len(pool)),
                **{f"mean {k}": float(np.mean([m[k] for m in memory])) for k in MEMORY_FIELDS},
                "sum RssAnon": float(sum(m["RssAnon"] for m in memory)),
            }
            statement_floors: dict[int, tuple[list[float], float]] = {}
            for clients in sorted({c[6] for c in selected if c[6] is not None}):
                latencies, wall, _ = await inline_round_trips(
                    pool, floor_statement(clients), clients, n1 if clients == 1 else n50
                )
                statement_floors[clients] = (latencies, wall)
            for name, clients, per, call, monsters, floor, stmt_clients in selected:
                set_mode(admin, "inline")
                latencies, wall, cpu = await inline_round_trips(pool, call, clients, per)
                statement = statement_floors[stmt_clients][0] if stmt_clients else None
                add_row(name, latencies, wall, cpu, monsters, floor, statement)
            for clients, (latencies, wall) in statement_floors.items():
                name = f"floor: statement of 5 rows, {clients} client{'s' if clients > 1 else ''}"
                add_row(name, latencies, wall, None, PACK, None, latencies)
        finally:
            for conn in pool:
                await conn.close()
    if wanted("inline legacy gateway"):
        for pool_size, rate in itertools.product(LEGACY_POOLS, LEGACY_RATES):
            set_mode(admin, "inline")
            warmup = inline_warmup_s(pool_size, startup_s)
            product_row, floor_row = (
                run_rate(
                    admin,
                    game,
                    None,
                    rate=rate,
                    seconds=legacy_seconds,
                    connections=pool_size,
                    monsters=LEGACY_MONSTERS,
                    schema=schema,
                    # The floor starts at once (nothing to load): its usual warm-up.
                    warmup_s=warmup if schema == PRODUCT else WARMUP_S,
                )
                for schema in (PRODUCT, FLOOR)
            )
            legacy += [
                {"serving": "inline", "tables": PRODUCT, "left out s": warmup, **product_row,
                 **against_floor(product_row, floor_row)},
                {"serving": "", "tables": FLOOR, "left out s": WARMUP_S, **floor_row},
            ]  # fmt: skip

    # The worker: serving.mode 'worker' (the gateway's requests queued, not answered inline).
    # (scenario, clients, round trips per client, submit, read back, floor, monsters per
    # job, connections the clients share: None for one each)
    scenarios: list[
        tuple[str, int, int, Submit, Read | None, list[float] | None, int, int | None]
    ] = [
        ("pack of 5, 1 client", 1, n1, submit_pack, None, floor1, PACK, None),
        ("pack of 5, 50 clients", 50, n50, submit_pack, None, floor50, PACK, None),
        ("pack of 5 typed, 50 clients", 50, n50, submit_typed_pack, None, floor50, PACK, None),
        ("pack of 5, 50 clients, 4 conns", 50, n50, submit_pack, None, floor50, PACK, 4),
        ("pack of 5 typed, 50 cl., 4 conns", 50, n50, submit_typed_pack, None, floor50, PACK,
         4),
        ("batch of 256 packed, 8 clients", 8, n_batch, submit_packed_batch, read_typed, None,
         BATCH, None),
        ("batch of 256 packed, 16 clients", 16, n_batch // 2, submit_packed_batch, read_typed,
         None, BATCH, None),
        ("batch of 256 typed, 8 clients", 8, n_batch, submit_typed_batch, read_typed, None,
         BATCH, None),
        ("batch of 256 JSON, 8 clients", 8, n_batch, submit_batch, read_json, None, BATCH,
         None),
    ]  # fmt: skip
    worker_cases = [c for c in scenarios if wanted(c[0]) and not c[0].startswith("inline")]
    if worker_cases or wanted("worker legacy gateway"):
        set_mode(admin, "worker")
        worker = start_worker(worker_url)
        try:
            await round_trips(game, "ml_decisions", submit_pack, 1, 50)  # warm-up: sessions, plans
            for (
                name,
                clients,
                per,
                submit,
                read,
                floor,
                monsters_per_job,
                connections,
            ) in worker_cases:
                set_mode(admin, "worker")
                latencies, wall, cpu = await round_trips(
                    game, "ml_decisions", submit, clients, per, connections, worker.pid, read
                )
                add_row(name, latencies, wall, cpu, monsters_per_job, floor)
            if wanted("worker legacy gateway"):
                for pool_size, rate in itertools.product(LEGACY_POOLS, LEGACY_RATES):
                    set_mode(admin, "worker")
                    product_row, floor_row = (
                        run_rate(
                            admin,
                            game,
                            worker.pid,
                            rate=rate,
                            seconds=legacy_seconds,
                            connections=pool_size,
                            monsters=LEGACY_MONSTERS,
                            schema=schema,
                        )
                        for schema in (PRODUCT, FLOOR)
                    )
                    legacy += [
                        {"serving": "worker", "tables": PRODUCT, "left out s": WARMUP_S,
                         **product_row, **against_floor(product_row, floor_row)},
                        {"serving": "", "tables": FLOOR, "left out s": WARMUP_S, **floor_row},
                    ]  # fmt: skip
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    for name, floor, floor_wall in (
        ("floor: echo worker, 1 client", floor1, floor1_wall),
        ("floor: echo worker, 50 clients", floor50, floor50_wall),
    ):
        add_row(name, floor, floor_wall, None, PACK, floor)
    report(rows, legacy, startup_rows, pool_memory)


def report(
    rows: list[dict[str, object]],
    legacy: list[Mapping[str, object]],
    startup_rows: list[dict[str, object]],
    pool_memory: Mapping[str, float],
) -> None:
    """The tables, then the issue's targets against the figures."""
    print(
        table(
            rows,
            [
                "scenario",
                "n",
                "p50 ms",
                "p99 ms",
                "max ms",
                "jobs/s",
                "decisions/s",
                "p50 / floor",
                "p50 / stmt",
                "CPU ms/job db",
                "worker",
                "clients",
            ],
        )
    )
    print(
        "\n(jobs/s: statements a second for the inline cases; p50 / floor: against the echo "
        "worker's round trip; p50 / stmt: against a statement returning the same rows decided by "
        "nothing, bench/sql/inline_floor.sql)"
    )
    if startup_rows:
        print(
            "\ninline backend start-up: a fresh connection's first ml.decide_pack (typed, pack of "
            "5) against its steady calls; its backend's memory from /proc/<pid>/status (MB; "
            "anon: its own heap, file: library pages shared with other backends, shmem: shared "
            "buffers touched)"
        )
        print(table(startup_rows, list(dict.fromkeys(k for r in startup_rows for k in r))))
    if pool_memory:
        print(
            f"\n{pool_memory['backends']:.0f} warmed inline backends: mean VmRSS "
            f"{pool_memory['mean VmRSS']:.1f} MB (RssAnon {pool_memory['mean RssAnon']:.1f}, "
            f"RssFile {pool_memory['mean RssFile']:.1f}, RssShmem "
            f"{pool_memory['mean RssShmem']:.1f}); their RssAnon together "
            f"{pool_memory['sum RssAnon']:.0f} MB"
        )
    if legacy:
        print(
            f"\nlegacy gateway (bench/sql/legacy_gateway.pgbench): {LEGACY_MONSTERS:,} monsters, "
            "requests started on schedule at each offered rate from a pool of connections; the "
            "first seconds of each run left out ('left out s': the inline runs' backends import "
            f"ONNX Runtime at their first request); tables {FLOOR}: the floor, the same SQL "
            "against tables that answer each request inside its INSERT "
            "(bench/sql/legacy_floor.sql), run right after the row above it"
        )
        print(table(legacy, list(dict.fromkeys(k for r in legacy for k in r))))
    print("\ntargets (this machine):")
    by_name = {str(r["scenario"]): r for r in rows}
    for name in ("inline pack of 5 typed, 1 client", "inline pack of 5 packed, 1 client"):
        if name in by_name:
            p99 = float(by_name[name]["p99 ms"])  # type: ignore[arg-type]
            print(
                f"  {name}: p99 {p99:.3f} ms (target <= {TARGET_PACK_P99_MS:g} ms): "
                f"{verdict(p99 <= TARGET_PACK_P99_MS)}"
            )
    for i, row in enumerate(legacy):
        if row["serving"] != "inline" or row["offered/s"] != TARGET_LEGACY_RATE:
            continue
        floor = legacy[i + 1]
        share = float(row["served / floor"])  # type: ignore[arg-type]
        within = float(row["<= 15 ms %"])  # type: ignore[arg-type]
        print(
            f"  legacy gateway inline, {row['conns']} connections, {TARGET_LEGACY_RATE:,} "
            f"offered: served {float(row['served/s']):,.0f}/s = {100 * share:.1f}% of the "  # type: ignore[arg-type]
            f"floor's {float(floor['served/s']):,.0f}/s (target >= "  # type: ignore[arg-type]
            f"{100 * TARGET_LEGACY_SHARE:.0f}%), {within:.2f}% of them answered within 15 ms "
            f"(target >= {TARGET_LEGACY_WITHIN_PCT}%): "
            f"{verdict(share >= TARGET_LEGACY_SHARE and within >= TARGET_LEGACY_WITHIN_PCT)}"
        )
    batches = [r for r in rows if str(r["scenario"]).startswith("inline batch of 256")]
    if batches:
        best = max(batches, key=lambda r: float(r["decisions/s"]))  # type: ignore[arg-type]
        rate = float(best["decisions/s"])  # type: ignore[arg-type]
        print(
            f"  inline batches of 256, production-size actor: {rate:,.0f} decisions/s "
            f"({best['scenario']}; target >= {TARGET_BATCH_DECISIONS_S:,}): "
            f"{verdict(rate >= TARGET_BATCH_DECISIONS_S)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer round trips (a smoke run)")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        help=(
            "run only the scenarios whose name contains one of these (e.g. 'batch', 'legacy', "
            "'inline', 'inline legacy', 'worker legacy', 'inline backend start-up')"
        ),
    )
    args = parser.parse_args()
    asyncio.run(run(args.quick, args.only))


if __name__ == "__main__":
    main()
