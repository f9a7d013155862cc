"""Shared pieces of the benchmarks: a fresh benchmark database, timing statistics, table output."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import psycopg

from config.settings import load_settings, url_with
from scripts.migrate import upgrade

BENCH_SQL = Path(__file__).resolve().parent / "sql"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def bench_sql(name: str) -> str:
    return (BENCH_SQL / f"{name}.sql").read_text(encoding="utf-8")


def url_as(dbname: str, role: str | None = None) -> str:
    return url_with(load_settings().admin_url, role=role, dbname=dbname)


def fresh_database(dbname: str) -> str:
    """Drop and recreate `dbname`, migrate it to head; returns its admin URL."""
    with psycopg.connect(url_as("postgres"), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(dbname)
            )
        )
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname)))
    url = url_as(dbname)
    upgrade(url)
    return url


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    data = np.asarray(samples_ms, dtype=np.float64)
    if data.size == 0:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    return {
        "n": float(data.size),
        "p50": float(np.percentile(data, 50)),
        "p99": float(np.percentile(data, 99)),
        "max": float(data.max()),
        "mean": statistics.fmean(data.tolist()),
    }


def table(rows: Sequence[Mapping[str, object]], columns: list[str]) -> str:
    """A fixed-width text table (what the benchmarks print and RESULTS.md records)."""
    text = [[c for c in columns]] + [[_cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in text) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


def _database_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().split(" ", 2)[1] == "(postgres)":
                pids.append(int(stat.parent.name))
    return pids


class CpuMeter:
    """Where a scenario's CPU went: the database's processes, the worker's, the clients' (this
    process). On two shared cores, throughput is CPU per job; this says whose."""

    def __init__(self, worker_pid: int | None) -> None:
        self.worker_pid = worker_pid
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        return {
            "database": sum(cpu_seconds(p) for p in _database_pids()),
            "worker": cpu_seconds(self.worker_pid) if self.worker_pid else 0.0,
            "clients": cpu_seconds(os.getpid()),
        }

    def per_job_ms(self, jobs: int) -> dict[str, float]:
        """CPU milliseconds per job since the meter started, by owner."""
        end = self._sample()
        return {k: 1e3 * (end[k] - self.start[k]) / max(jobs, 1) for k in end}
