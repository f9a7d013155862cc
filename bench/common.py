"""Shared pieces of the benchmarks: a fresh benchmark database, timing statistics, table output."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psycopg

from config.settings import load_settings, url_with
from scripts.migrate import upgrade

BENCH_SQL = Path(__file__).resolve().parent / "sql"


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


def table(rows: list[dict[str, object]], columns: list[str]) -> str:
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
