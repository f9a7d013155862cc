"""max_attempts holds on every path that hands a decision job out again: the release of a restarted
worker's jobs, the claim, and the rescue of a silent worker's jobs. A job out of attempts goes dead
with its reason and is answered as dead jobs are (a pack request's caller gets a "dead"
notification; a gateway request gets action 255 and its request row says 'failed'). And a job whose
answer cannot be written, nor even given back, never takes the worker down."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.worker_helpers import (
    collect_decisions,
    deploy_actor,
    gateway_insert,
    gateway_poll,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

PACK = [501, 502, 503]


@pytest.fixture
def game(game_url: str, db_url: str) -> Any:
    deploy_actor(db_url, "aggressive", "1.0")
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync_pack(conn, PACK, "aggressive")
        yield conn


def held(
    admin: Any, job: int, status: str, worker: str | None, attempts: int, stale: bool = False
) -> None:
    """Put a job where a worker left it (as the owner: no API moves a job by hand); `stale`: its
    worker stopped heartbeating an hour ago."""
    admin.execute(
        "UPDATE ml.inference_jobs SET status = %s, worker_id = %s, attempts = %s, "
        "heartbeat_at = clock_timestamp() - CASE WHEN %s THEN interval '1 hour' "
        "ELSE interval '0' END WHERE id = %s",
        (status, worker, attempts, stale, job),
    )


def job_row(admin: Any, job: int) -> tuple[Any, ...]:
    row = admin.execute(
        "SELECT status, attempts, error FROM ml.inference_jobs WHERE id = %s", (job,)
    ).fetchone()
    assert row is not None
    return tuple(row)


def gateway_job(admin: Any, request: int) -> int:
    row = admin.execute(
        "SELECT id FROM ml.inference_jobs WHERE gateway_request_id = %s", (request,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def gateway_outcome(admin: Any, request: int) -> tuple[Any, ...]:
    """(request status, response action, response reason)."""
    row = admin.execute(
        "SELECT q.status, r.action_id, r.reason FROM ml.ai_requests q "
        "LEFT JOIN ml.ai_responses r USING (request_id) WHERE q.request_id = %s",
        (request,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_restarted_worker_gives_back_what_it_held_within_max_attempts(
    worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """A worker with a fixed id crashed holding jobs: on its restart, the job that had used its
    last attempt goes dead with the reason (it was re-queued forever before: attempts 6 of 3,
    still 'running'); the one with attempts left is answered."""
    last = request_pack(game, PACK, "aggressive")
    retry = request_pack(game, PACK, "aggressive")
    held(admin, last, "running", "fixed", 3)
    held(admin, retry, "running", "fixed", 1)
    with worker_process(worker_url, worker_id="fixed"):
        decisions = collect_decisions(listener, {last, retry})
    assert [d["status"] for d in decisions[last]] == ["dead"]
    reason = "worker fixed restarted while holding it (attempt 3 of 3)"
    assert decisions[last][0]["error"] == reason
    assert job_row(admin, last) == ("dead", 3, reason)
    assert [d["status"] for d in decisions[retry]] == ["done"]
    assert job_row(admin, retry) == ("done", 2, None)


def test_a_restarted_worker_answers_a_dead_gateway_request(
    worker_url: str, game: Any, admin: Any
) -> None:
    request = gateway_insert(game, 7301, [0.1] * 64)
    held(admin, gateway_job(admin, request), "running", "fixed", 3)
    with worker_process(worker_url, worker_id="fixed"):
        assert gateway_poll(game, request, timeout_s=30) == (255, 0.0)
    reason = "worker fixed restarted while holding it (attempt 3 of 3)"
    assert gateway_outcome(admin, request) == ("failed", 255, reason)
    assert job_row(admin, gateway_job(admin, request)) == ("dead", 3, reason)


def test_a_job_out_of_attempts_is_not_claimed_again(
    worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """Pending after its last attempt (put back by hand, or by an old release): the claim hands it
    out no more; it goes dead, answered, its attempts unchanged."""
    spent = request_pack(game, PACK, "aggressive")
    fresh = request_pack(game, PACK, "aggressive")
    request = gateway_insert(game, 7302, [0.1] * 64)
    held(admin, spent, "pending", None, 3)
    held(admin, gateway_job(admin, request), "pending", None, 5)
    with worker_process(worker_url):
        decisions = collect_decisions(listener, {spent, fresh})
        assert gateway_poll(game, request, timeout_s=30) == (255, 0.0)
    assert [d["status"] for d in decisions[spent]] == ["dead"]
    assert job_row(admin, spent) == (
        "dead",
        3,
        "claimed again with no attempt left (attempt 3 of 3)",
    )
    assert [d["status"] for d in decisions[fresh]] == ["done"]
    reason = "claimed again with no attempt left (attempt 5 of 3)"
    assert gateway_outcome(admin, request) == ("failed", 255, reason)


def test_a_rescued_gateway_job_out_of_attempts_says_failed_on_its_request(
    worker_url: str, game: Any, admin: Any
) -> None:
    """The rescue made a silent worker's gateway job dead and answered it with 255, but left its
    request 'pending' for ever: the request row now says 'failed'."""
    request = gateway_insert(game, 7303, [0.1] * 64)
    job = gateway_job(admin, request)
    held(admin, job, "running", "gone", 3, stale=True)
    with worker_process(worker_url):
        assert gateway_poll(game, request, timeout_s=30) == (255, 0.0)
    reason = "worker gone stopped heartbeating (attempt 3 of 3)"
    assert gateway_outcome(admin, request) == ("failed", 255, reason)
    assert job_row(admin, job) == ("dead", 3, reason)


def test_a_job_that_cannot_be_answered_nor_given_back_is_buried_and_the_worker_lives_on(
    worker_url: str, game: Any, admin: Any
) -> None:
    """A constraint the test adds refuses any response to one gateway request: its answer cannot
    be written (the round is answered job by job, it is given back for its attempts), and at its
    last attempt not even the dead answer can be written. The worker buried it dead with both
    errors, and went on answering (it exited on the failed give-back before)."""
    poisoned = gateway_insert(game, 7304, [0.1] * 64)
    admin.execute(
        f"ALTER TABLE ml.ai_responses ADD CONSTRAINT poison CHECK (request_id <> {poisoned})"
    )
    job = gateway_job(admin, poisoned)
    with worker_process(worker_url) as process:
        assert wait_until(lambda: job_row(admin, job)[0] == "dead")
        after = gateway_insert(game, 7305, [0.2] * 64)
        answer = gateway_poll(game, after, timeout_s=30)
        assert process.poll() is None
    assert answer is not None
    assert answer[0] != 255
    status, attempts, error = job_row(admin, job)
    assert (status, attempts) == ("dead", 3)
    assert error.startswith("its answer could not be written: ")
    assert "; giving it back failed: " in error
    assert '"poison"' in error
    # Nothing could be written for the gateway: its request is left as it was.
    assert gateway_outcome(admin, poisoned) == ("pending", None, None)
