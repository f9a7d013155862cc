"""Calling the retention purges (ml.purge_*) from tests: each returns how many rows it deleted."""

from __future__ import annotations

from typing import Any

import psycopg

#: Each purge, called with its default limit and with one.
PURGES = {
    "purge_finished_decisions": (
        "SELECT ml.purge_finished_decisions()",
        "SELECT ml.purge_finished_decisions(%s)",
    ),
    "purge_job_history": ("SELECT ml.purge_job_history()", "SELECT ml.purge_job_history(%s)"),
    "purge_coordination_logs": (
        "SELECT ml.purge_coordination_logs()",
        "SELECT ml.purge_coordination_logs(%s)",
    ),
}


def call_purge(conn: psycopg.Connection[Any], name: str, max_rows: int | None = None) -> int:
    default, limited = PURGES[name]
    cursor = conn.execute(default) if max_rows is None else conn.execute(limited, (max_rows,))
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])
