"""History that only grew is kept for a window. pg_cron keeps every run of every job in
cron.job_run_details; the runs of the product's jobs (ml_*) go jobs.history_seconds after they
ended (ml.purge_job_history, every minute). pg_cron runs only in ragnarok_ml: that history is made
there, inside a transaction rolled back. A coordination log row (one per signal sent) goes
signals.log_retention_seconds after it was written (ml.purge_coordination_logs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from config.settings import load_settings
from models.config import load_config
from tests.purge_helpers import PURGES, call_purge

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
    return call_purge(conn, "purge_job_history", max_rows)


def purge_logs(conn: psycopg.Connection[Any], max_rows: int | None = None) -> int:
    return call_purge(conn, "purge_coordination_logs", max_rows)


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


def log_signal(admin: psycopg.Connection[Any], sender: int, written_ago_s: float) -> int:
    row = admin.execute(
        "INSERT INTO ml.ml_coordination_logs (signal_type, from_monster_id, to_monster_ids, "
        "created_at) VALUES ('retreat', %s, '{1, 2}', now() - make_interval(secs => %s)) "
        "RETURNING id",
        (sender, written_ago_s),
    ).fetchone()
    assert row is not None
    return int(row[0])


def logged(admin: psycopg.Connection[Any]) -> list[int]:
    return [r[0] for r in admin.execute("SELECT id FROM ml.ml_coordination_logs ORDER BY id")]


def test_coordination_logs_past_their_retention_go_oldest_first(
    admin: psycopg.Connection[Any],
) -> None:
    retention = load_config().signals.log_retention_seconds
    # Written in an order unlike their age: the purge goes by created_at, not by id.
    older = log_signal(admin, 1, retention + 60)
    oldest = log_signal(admin, 2, retention + 600)
    young = log_signal(admin, 3, retention - 60)
    assert logged(admin) == [older, oldest, young]
    assert purge_logs(admin, max_rows=1) == 1
    assert logged(admin) == [older, young]  # the oldest went first
    assert purge_logs(admin) == 1
    assert logged(admin) == [young]
    assert purge_logs(admin) == 0


def test_coordination_log_retention_is_the_operators_setting(
    admin: psycopg.Connection[Any],
) -> None:
    row = log_signal(admin, 1, 120)
    assert purge_logs(admin) == 0
    admin.execute("UPDATE ml.config SET value = '100' WHERE key = 'signals.log_retention_seconds'")
    assert purge_logs(admin) == 1
    assert row not in logged(admin)


@pytest.mark.parametrize("name", sorted(PURGES))
@pytest.mark.parametrize("max_rows", [0, -5])
def test_a_bad_limit_is_refused(admin: psycopg.Connection[Any], name: str, max_rows: int) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_rows must be a positive"):
        call_purge(admin, name, max_rows)


@pytest.mark.parametrize("name", sorted(PURGES))
def test_a_null_limit_is_refused(admin: psycopg.Connection[Any], name: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="got null"):
        admin.execute(PURGES[name][1], (None,))
