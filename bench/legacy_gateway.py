"""The legacy gateway under an offered load: its exact SQL at a fixed request rate.

The load generator is pgbench (bench/sql/legacy_gateway.pgbench), not Python: at 10,000 requests a
second with polls every 2 ms, a Python client would need the machine's two cores to itself. pgbench
starts each request on a schedule (`-R`, Poisson arrivals at the rate), whether or not the earlier
ones are answered, as a game server's ticks do; its connections are a gateway's pool. A gateway
that only runs the next request once the last is answered offers whatever rate the system allows
and hides an overload (this benchmark's earlier form did: its 16 connections offered 1,600
requests a second, not the 10,000 its title said).

Per pool size and rate: the share of requests answered before the gateway gave up (its 8th poll,
15 ms: "in window"); the share whose answer it had within 15 ms of sending the INSERT (its own
clock), and within 15 ms of when the request was due ("from due": also counting the wait for a
free connection of the pool, pgbench's schedule lag, "wait"); the gateway's latency (INSERT sent
-> answer read, so in steps of its 2 ms polls); the database's (request row -> answer row, both
`now()` of their transactions); CPU per request (the whole machine: database, worker, pgbench).

The floor (`schema=FLOOR`, bench/sql/legacy_floor.sql) runs the same script at the same rate
against tables shaped like the product's whose row trigger answers each request inside its INSERT:
one INSERT and one poll per request, no queue, no worker. What it serves, and the CPU it spends,
is the most any product could do through this protocol on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

from bench.common import BENCH_SQL, bench_sql, busy_cpu_seconds, cpu_seconds, summarize

DB_SERVER = Path(__file__).resolve().parent.parent / "scripts" / "db_server.sh"
SCRIPT = BENCH_SQL / "legacy_gateway.pgbench"
#: Seconds at the start of a run left out of the figures: pgbench opens every connection at once
#: and each new session builds its caches; a running gateway's connections are long open.
WARMUP_S = 2.0
#: Where the gateway's tables are: the product's schema, or the floor's (answered in the INSERT).
PRODUCT = "ml"
FLOOR = "gateway_floor"


def _admin(admin_url: str, schema: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection that reads the gateway's tables in `schema`."""
    conn = psycopg.connect(admin_url, autocommit=True)
    conn.execute("SELECT set_config('search_path', %s, false)", (schema,))
    return conn


def pgbench(workdir: Path, args: list[str]) -> None:
    """Run pgbench in `workdir`: the development server's own (scripts/db_server.sh), or the
    `pgbench` on PATH for a server of one's own (DATABASE_URL set)."""
    if os.environ.get("DATABASE_URL"):
        exe = shutil.which("pgbench")
        if exe is None:
            raise RuntimeError("pgbench is not on PATH (it comes with the PostgreSQL server)")
        command = [exe, *args]
    else:
        command = ["bash", str(DB_SERVER), "pgbench", str(workdir), *args]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def run_rate(
    admin_url: str,
    game_url: str,
    worker_pid: int,
    *,
    rate: int,
    seconds: float,
    connections: int,
    monsters: int,
    schema: str = PRODUCT,
) -> dict[str, float]:
    """Offer `rate` gateway requests a second for `seconds` (+ the warm-up) from `connections`,
    to the product's tables (`schema` "ml") or to the floor's (FLOOR, bench/sql/legacy_floor.sql):
    the gateway finds `ai_requests` on its search_path, as it does in production."""
    gateway_url = make_conninfo(game_url, options=f"-c search_path={schema}")
    with _admin(admin_url, schema) as conn:
        first_id = conn.execute(bench_sql("legacy_last_request")).fetchone()
    after = int(first_id[0]) if first_id else 0
    with tempfile.TemporaryDirectory(prefix="gateway-") as tmp:
        work = Path(tmp)
        work.chmod(0o777)  # the chroot's postgres user writes the log here
        shutil.copy(SCRIPT, work / SCRIPT.name)
        busy, worker = busy_cpu_seconds(), cpu_seconds(worker_pid)
        pgbench(
            work,
            [
                "--no-vacuum",
                "--protocol=simple",
                f"--file={SCRIPT.name}",
                f"--define=monsters={monsters}",
                f"--rate={rate}",
                f"--time={round(seconds + WARMUP_S)}",
                f"--client={connections}",
                "--jobs=1",
                "--log",
                "--log-prefix=gateway",
                gateway_url,
            ],
        )
        busy, worker = busy_cpu_seconds() - busy, cpu_seconds(worker_pid) - worker
        # client, transaction, latency us (from its scheduled start), script, epoch s, us, lag us
        log = np.loadtxt(
            [line for f in sorted(work.glob("gateway.*")) for line in f.read_text().splitlines()],
            dtype=np.float64,
            ndmin=2,
        )
    # By when they finished: under an overload pgbench runs requests due long before.
    finished = log[:, 4] + log[:, 5] / 1e6
    kept = finished >= finished.min() + WARMUP_S
    from_due_ms = log[kept, 2] / 1e3
    lag_ms = log[kept, 6] / 1e3
    from_insert_ms = from_due_ms - lag_ms
    with _admin(admin_url, schema) as conn:
        row = conn.execute(
            bench_sql("legacy_outcome"), {"after": after, "warmup_s": WARMUP_S}
        ).fetchone()
    assert row is not None
    requests, timed_out, db_p50, db_p99, db_max = row
    gateway = summarize(from_insert_ms.tolist())
    return {
        "conns": connections,
        "offered/s": rate,
        "served/s": len(log) / (seconds + WARMUP_S),
        "requests": float(requests),
        "in window %": 100.0 * (1 - timed_out / requests) if requests else float("nan"),
        "<= 15 ms %": 100.0 * float(np.mean(from_insert_ms <= 15.0)),
        "from due %": 100.0 * float(np.mean(from_due_ms <= 15.0)),
        "gateway p50": gateway["p50"],
        "gateway p99": gateway["p99"],
        "db p50": float(db_p50),
        "db p99": float(db_p99),
        "db max": float(db_max),
        "wait p99": float(np.percentile(lag_ms, 99)),
        "CPU ms/req": 1e3 * busy / len(log),
        "worker": 1e3 * worker / len(log),
    }
