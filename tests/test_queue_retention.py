"""Finished decision jobs are purged queues.retention_seconds after they finished, with the legacy
gateway's request and answer (ml.purge_finished_decisions, run by pg_cron every ten seconds); a
job not finished never is. Jobs answered by a real worker; time passes by moving their
timestamps back."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import pytest

from models.config import load_config
from tests.purge_helpers import call_purge
from tests.worker_helpers import (
    deploy_actor,
    gateway_insert,
    gateway_poll,
    random_state,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

PACK = [4001, 4002, 4003]
RETENTION_S = load_config().queues.retention_seconds


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync_pack(conn, PACK, "tank")
        yield conn


def finish_ago(admin: Any, job_ids: list[int], seconds: float) -> None:
    admin.execute(
        "UPDATE ml.inference_jobs SET finished_at = clock_timestamp() - make_interval(secs => %s) "
        "WHERE id = ANY(%s)",
        (seconds, job_ids),
    )


def job_of_request(admin: Any, request_id: int) -> int:
    row = admin.execute(
        "SELECT id FROM ml.inference_jobs WHERE gateway_request_id = %s", (request_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def remaining(admin: Any) -> tuple[list[int], list[int], list[int]]:
    """Ids left in ml.inference_jobs, ml.ai_requests, ml.ai_responses (by request)."""
    jobs = [r[0] for r in admin.execute("SELECT id FROM ml.inference_jobs ORDER BY id")]
    requests = [r[0] for r in admin.execute("SELECT request_id FROM ml.ai_requests ORDER BY 1")]
    answers = [r[0] for r in admin.execute("SELECT request_id FROM ml.ai_responses ORDER BY 1")]
    return jobs, requests, answers


def purge(admin: Any, max_rows: int | None = None) -> int:
    return call_purge(admin, "purge_finished_decisions", max_rows)


def test_finished_jobs_past_retention_go_with_their_gateway_rows_unfinished_ones_stay(
    db_url: str, worker_url: str, admin: Any, game: Any
) -> None:
    rng = np.random.default_rng(3)
    deploy_actor(db_url, "tank", "v1")
    with worker_process(worker_url):
        old_pack, young_pack = request_pack(game, PACK, "tank"), request_pack(game, PACK, "tank")
        old_request = gateway_insert(game, 9001, random_state(rng), "tank")
        assert gateway_poll(game, old_request, timeout_s=30.0) is not None
        assert wait_until(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM ml.inference_jobs WHERE status = 'done'"
                ).fetchone()[0]
                == 3
            )
        )
    # With no worker: a gateway request it gave up on (its timeout UPDATE), and a pack request.
    waiting_request = gateway_insert(game, 9002, random_state(rng), "tank")
    game.execute(
        "UPDATE ai_requests SET status = 'timeout' WHERE request_id = %s", (waiting_request,)
    )
    pending_pack = request_pack(game, PACK, "tank")
    old_gateway_job = job_of_request(admin, old_request)
    finish_ago(admin, [old_pack, old_gateway_job], RETENTION_S + 1)
    finish_ago(admin, [young_pack], RETENTION_S - 60)
    admin.execute(  # created long ago, never finished
        "UPDATE ml.inference_jobs SET created_at = created_at - interval '1 hour' "
        "WHERE id = ANY(%s)",
        ([pending_pack, job_of_request(admin, waiting_request)],),
    )
    before = remaining(admin)

    assert purge(admin) == 2

    jobs, requests, answers = remaining(admin)
    assert jobs == sorted(set(before[0]) - {old_pack, old_gateway_job})
    assert requests == [waiting_request]  # the answered one went with its answer
    assert answers == []
    assert purge(admin) == 0  # nothing else is due


def test_oldest_first_at_most_max_rows_a_call_and_bad_limits_refused(admin: Any, game: Any) -> None:
    jobs = [request_pack(game, PACK, "tank") for _ in range(4)]
    for job in jobs:  # finished by the game server's cancel
        game.execute("SELECT ml.cancel_decision(%s)", (job,))
    for age, job in zip([4000, 1000, 3000, 2000], jobs, strict=True):
        finish_ago(admin, [job], age)

    assert purge(admin, 2) == 2
    assert remaining(admin)[0] == [jobs[1], jobs[3]]  # the two oldest (4000 s, 3000 s) went
    for bad in (0, -1):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="max_rows"):
            purge(admin, bad)
    assert remaining(admin)[0] == [jobs[1], jobs[3]]


def test_retention_is_the_operators_setting(admin: Any, game: Any) -> None:
    job = request_pack(game, PACK, "tank")
    game.execute("SELECT ml.cancel_decision(%s)", (job,))
    finish_ago(admin, [job], 30)
    assert purge(admin) == 0
    admin.execute("UPDATE ml.config SET value = '20' WHERE key = 'queues.retention_seconds'")
    assert purge(admin) == 1
