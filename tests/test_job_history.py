"""pg_cron keeps every run of every job in cron.job_run_details; the runs of the product's jobs
(ml_*) go jobs.history_seconds after they ended (ml.purge_job_history, every minute). pg_cron runs
only in ragnarok_ml: the history is made there, inside a transaction rolled back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from config.settings import load_settings

#: Ten years ago: older than any real run, so that only this test's runs are past the history
#: window set below (five years).
LONG_AGO_S = 10 * 365 * 86400
WINDOW_S = 5 * 365 * 86400


@pytest.fixture
def ragnarok_ml() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(load_settings().admin_url) as conn:
        try:
            conn.execute(
                "UPDATE ml.config SET value = to_jsonb(%s::integer) "
                "WHERE key = 'jobs.history_seconds'",
                (WINDOW_S,),
            )
            yield conn
        finally:
            conn.rollback()


def job_id(conn: psycopg.Connection[Any], name: str) -> int:
    row = conn.execute("SELECT jobid FROM cron.job WHERE jobname = %s", (name,)).fetchone()
    assert row is not None, f"{name} is not scheduled"
    return int(row[0])


def add_run(
    conn: psycopg.Connection[Any], job: int, started_ago_s: float, ended: bool = True
) -> int:
    """A finished (or never finished) run of `job` that started `started_ago_s` ago."""
    row = conn.execute(
        "INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, "
        "status, return_message, start_time, end_time) "
        "SELECT %(job)s, nextval('cron.runid_seq'), 1, 'ragnarok_ml', 'ml_admin', 'SELECT 1', "
        "CASE WHEN %(ended)s THEN 'succeeded' ELSE 'starting' END, NULL, "
        "now() - make_interval(secs => %(ago)s), "
        "CASE WHEN %(ended)s THEN now() - make_interval(secs => %(ago)s - 0.01) END "
        "RETURNING runid",
        {"job": job, "ago": started_ago_s, "ended": ended},
    ).fetchone()
    assert row is not None
    return int(row[0])


def kept(conn: psycopg.Connection[Any], runs: list[int]) -> list[int]:
    rows = conn.execute(
        "SELECT runid FROM cron.job_run_details WHERE runid = ANY(%s) ORDER BY runid", (runs,)
    )
    return [r[0] for r in rows]


def purge(conn: psycopg.Connection[Any], max_rows: int | None = None) -> int:
    if max_rows is None:
        row = conn.execute("SELECT ml.purge_job_history()").fetchone()
    else:
        row = conn.execute("SELECT ml.purge_job_history(%s)", (max_rows,)).fetchone()
    assert row is not None
    return int(row[0])


def test_runs_of_the_products_jobs_go_after_their_window_oldest_first_others_stay(
    ragnarok_ml: psycopg.Connection[Any],
) -> None:
    conn = ragnarok_ml
    product = job_id(conn, "ml_expire_signals")
    scheduled = conn.execute("SELECT cron.schedule('not_ours', '0 3 * * *', 'SELECT 1')")
    other = int(scheduled.fetchone()[0])  # type: ignore[index]
    old = add_run(conn, product, LONG_AGO_S)
    never_ended = add_run(conn, product, LONG_AGO_S, ended=False)
    recent = add_run(conn, product, 60)
    not_ours = add_run(conn, other, LONG_AGO_S)
    runs = [old, never_ended, recent, not_ours]

    assert purge(conn, max_rows=1) == 1
    assert kept(conn, runs) == [never_ended, recent, not_ours]  # the oldest run went first
    assert purge(conn) == 1
    assert kept(conn, runs) == [recent, not_ours]
    assert purge(conn) == 0


def test_the_window_is_the_operators_setting(ragnarok_ml: psycopg.Connection[Any]) -> None:
    conn = ragnarok_ml
    run = add_run(conn, job_id(conn, "ml_form_dirty_packs"), 120)
    purge(conn)
    assert kept(conn, [run]) == [run]  # two minutes old, the window five years
    conn.execute("UPDATE ml.config SET value = '100' WHERE key = 'jobs.history_seconds'")
    purge(conn, max_rows=10_000_000)  # the real runs past 100 s go too (rolled back)
    assert kept(conn, [run]) == []


def test_without_pg_cron_there_is_no_history(admin: psycopg.Connection[Any]) -> None:
    assert admin.execute("SELECT to_regclass('cron.job_run_details')").fetchone() == (None,)
    assert admin.execute("SELECT ml.purge_job_history()").fetchone() == (0,)


@pytest.mark.parametrize("max_rows", [0, -5, None])
def test_a_bad_limit_is_refused(admin: psycopg.Connection[Any], max_rows: int | None) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_rows must be a positive"):
        admin.execute("SELECT ml.purge_job_history(%s)", (max_rows,))
