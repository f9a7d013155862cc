"""The legacy gateway under an offered load: its exact SQL at a fixed request rate.

The load generator is pgbench (bench/sql/legacy_gateway.pgbench), not Python: at 10,000 requests a
second with polls every 2 ms, a Python client would need the machine's two cores to itself. pgbench
starts each request on a schedule (`-R`, Poisson arrivals at the rate), whether or not the earlier
ones are answered, as a game server's ticks do; its connections are a gateway's pool. A gateway
that only runs the next request once the last is answered offers whatever rate the system allows
and hides an overload (this benchmark's earlier form did: its 16 connections offered 1,600
requests a second, not the 10,000 its title said).

The product's tables answer either through the queue (serving.mode 'worker': the worker answers
each request, the gateway's polls find it) or inside the INSERT (serving.mode 'inline': ONNX
Runtime in the inserting backend, docs/inline_serving.md); the caller sets the mode. A backend's
first inline decision imports ONNX Runtime and loads the sessions (a few hundred milliseconds of
CPU, pgbench opening every connection at once): an inline run leaves out a longer start
(`warmup_s`); a running gateway's pool paid it long ago.

Per pool size and rate: the share of requests answered before the gateway gave up (its 8th poll,
15 ms: "in window"); the share whose answer it had within 15 ms of sending the INSERT (its own
clock), and within 15 ms of when the request was due ("from due": also counting the wait for a
free connection of the pool, pgbench's schedule lag, "wait"); the gateway's latency (INSERT sent
-> answer read, so in steps of its 2 ms polls); the database's (request row -> answer row, both
`now()` of their transactions); requests served a second and CPU per request (the whole machine:
database, worker, pgbench), both over the window after the warm-up; the share of the answers that
a model gave ("model %": the floor's are none).

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
import time
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


def start_pgbench(workdir: Path, args: list[str]) -> subprocess.Popen[str]:
    """Start pgbench in `workdir`: the development server's own (scripts/db_server.sh), or the
    `pgbench` on PATH for a server of one's own (DATABASE_URL set)."""
    if os.environ.get("DATABASE_URL"):
        exe = shutil.which("pgbench")
        if exe is None:
            raise RuntimeError("pgbench is not on PATH (it comes with the PostgreSQL server)")
        command = [exe, *args]
    else:
        command = ["bash", str(DB_SERVER), "pgbench", str(workdir), *args]
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_pgbench(run: subprocess.Popen[str]) -> None:
    """Wait for pgbench to end; its error if it failed."""
    _, stderr = run.communicate()
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed ({run.returncode}): {stderr.strip()[-2000:]}")


def run_rate(
    admin_url: str,
    game_url: str,
    worker_pid: int | None,
    *,
    rate: int,
    seconds: float,
    connections: int,
    monsters: int,
    schema: str = PRODUCT,
    warmup_s: float = WARMUP_S,
) -> dict[str, float]:
    """Offer `rate` gateway requests a second for `seconds` (+ `warmup_s`, left out) from
    `connections`, to the product's tables (`schema` "ml") or to the floor's (FLOOR,
    bench/sql/legacy_floor.sql): the gateway finds `ai_requests` on its search_path, as it does in
    production. `worker_pid`: the worker answering the queue (None: no worker, inline answers)."""
    gateway_url = make_conninfo(game_url, options=f"-c search_path={schema}")
    with _admin(admin_url, schema) as conn:
        first_id = conn.execute(bench_sql("legacy_last_request")).fetchone()
    after = int(first_id[0]) if first_id else 0
    with tempfile.TemporaryDirectory(prefix="gateway-") as tmp:
        work = Path(tmp)
        work.chmod(0o777)  # the chroot's postgres user writes the log here
        shutil.copy(SCRIPT, work / SCRIPT.name)
        run = start_pgbench(
            work,
            [
                "--no-vacuum",
                "--protocol=simple",
                f"--file={SCRIPT.name}",
                f"--define=monsters={monsters}",
                f"--rate={rate}",
                f"--time={round(seconds + warmup_s)}",
                f"--client={connections}",
                "--jobs=1",
                "--log",
                "--log-prefix=gateway",
                gateway_url,
            ],
        )
        # The CPU counted from the end of the warm-up: with inline answers the start holds every
        # new backend's import of ONNX Runtime, which a running gateway's pool paid long ago.
        time.sleep(warmup_s)
        window_start = time.time()
        busy, worker = busy_cpu_seconds(), _cpu(worker_pid)
        finish_pgbench(run)
        busy, worker = busy_cpu_seconds() - busy, _cpu(worker_pid) - worker
        # client, transaction, latency us (from its scheduled start), script, epoch s, us, lag us
        log = np.loadtxt(
            [line for f in sorted(work.glob("gateway.*")) for line in f.read_text().splitlines()],
            dtype=np.float64,
            ndmin=2,
        )
    # By when they finished: under an overload pgbench runs requests due long before.
    finished = log[:, 4] + log[:, 5] / 1e6
    kept = finished >= window_start
    served = int(kept.sum())
    window_s = max(float(finished.max()) - window_start, 1e-3)
    from_due_ms = log[kept, 2] / 1e3
    lag_ms = log[kept, 6] / 1e3
    from_insert_ms = from_due_ms - lag_ms
    with _admin(admin_url, schema) as conn:
        row = conn.execute(
            bench_sql("legacy_outcome"), {"after": after, "warmup_s": warmup_s}
        ).fetchone()
        by_model = conn.execute(bench_sql("legacy_answered_by"), {"after": after}).fetchone()
    assert row is not None
    assert by_model is not None
    requests, timed_out, db_p50, db_p99, db_max = row
    gateway = summarize(from_insert_ms.tolist())
    return {
        "conns": connections,
        "offered/s": rate,
        "served/s": served / window_s,
        "requests": float(requests),
        "in window %": 100.0 * (1 - timed_out / requests) if requests else float("nan"),
        "<= 15 ms %": 100.0 * float(np.mean(from_insert_ms <= 15.0)),
        "from due %": 100.0 * float(np.mean(from_due_ms <= 15.0)),
        "gateway p50": gateway["p50"],
        "gateway p99": gateway["p99"],
        "db p50": float(db_p50),
        "db p99": float(db_p99),
        "db max": float(db_max),
        "wait p99": float(np.percentile(lag_ms, 99)) if served else float("nan"),
        "CPU ms/req": 1e3 * busy / max(served, 1),
        "worker": 1e3 * worker / max(served, 1),
        "model %": 100.0 * float(by_model[0]) if by_model[0] is not None else float("nan"),
    }


def _cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else 0.0
