"""Who is woken by a new decision job: NOTIFY ml_jobs goes out only while a worker is idle
(ml.workers.waiting): a claim that finds nothing puts the worker on that list, one that finds jobs
takes it off. The fence a worker takes before its last look at the queue waits for submits still in
flight."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from config.queries import connect_raw, query
from tests.worker_helpers import (
    collect_decisions,
    deploy_actor,
    request_pack,
    sync_pack,
    worker_process,
)

PACK = [3001, 3002]
REQUEST = "SELECT ml.request_pack_actions(%s::int[], %s::text[], %s::real[])"
#: The claim's parameters for worker w-idle: up to 10 jobs, no recurrent model's memory to read.
CLAIM: tuple[str, int, list[str], list[int]] = ("w-idle", 10, [], [])


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        sync_pack(conn, PACK, "tank")
        yield conn


@pytest.fixture
def worker_db(worker_url: str) -> Any:
    with connect_raw(worker_url, autocommit=True) as conn:
        conn.execute(query("register_worker"), ("w-idle", "host", 1, ["CPUExecutionProvider"]))
        yield conn


def go_idle(worker_db: psycopg.Connection[Any]) -> None:
    """The worker's claim on an empty queue: it finds nothing and is marked idle."""
    assert worker_db.execute(query("claim_inference_jobs"), CLAIM).fetchall() == []


def submit(game: psycopg.Connection[Any]) -> None:
    game.execute(REQUEST, (PACK, ["tank"] * 2, [[0.5] * 64 for _ in PACK]))


def notified(listener: psycopg.Connection[Any]) -> list[str]:
    return [n.channel for n in listener.notifies(timeout=0.3, stop_after=1)]


@pytest.fixture
def jobs_listener(worker_url: str) -> Any:
    with psycopg.connect(worker_url, autocommit=True) as conn:
        conn.execute("LISTEN ml_jobs")
        yield conn


def test_no_notify_while_every_worker_is_busy(
    game: Any, worker_db: Any, jobs_listener: Any
) -> None:
    submit(game)
    assert notified(jobs_listener) == []


def test_an_idle_worker_is_notified_and_its_claim_makes_it_busy_again(
    game: Any, worker_db: Any, jobs_listener: Any
) -> None:
    go_idle(worker_db)
    waiting = worker_db.execute("SELECT waiting FROM ml.workers WHERE worker_id = 'w-idle'")
    assert waiting.fetchone() == (True,)
    submit(game)
    assert notified(jobs_listener) == ["ml_jobs"]
    claimed = worker_db.execute(query("claim_inference_jobs"), CLAIM).fetchall()
    assert len(claimed) == 1
    waiting = worker_db.execute("SELECT waiting FROM ml.workers WHERE worker_id = 'w-idle'")
    assert waiting.fetchone() == (False,)
    submit(game)
    assert notified(jobs_listener) == []


def test_a_stopped_worker_is_not_waiting(worker_db: Any) -> None:
    go_idle(worker_db)
    worker_db.execute(query("heartbeat"), ("w-idle", 0, "stopped"))
    waiting = worker_db.execute("SELECT waiting FROM ml.workers WHERE worker_id = 'w-idle'")
    assert waiting.fetchone() == (False,)


def test_the_fence_is_not_clear_while_a_submit_is_in_flight(game_url: str, worker_db: Any) -> None:
    """A submit that read `waiting` before the worker set it (so it will not NOTIFY) holds the
    fence until it commits: until then the worker must not sleep; after it, the worker's last
    claim sees its job."""
    with psycopg.connect(game_url) as slow:  # one open transaction: the submit in flight
        sync_pack(slow, PACK, "tank")
        slow.commit()
        submit(slow)  # inserted, fence held shared, not committed
        go_idle(worker_db)  # its job is not committed: the claim does not see it
        assert worker_db.execute(query("fence_submits")).fetchone() == (False,)
        assert worker_db.execute(query("claim_inference_jobs"), CLAIM).fetchall() == []
        slow.commit()
    assert worker_db.execute(query("fence_submits")).fetchone() == (True,)
    assert len(worker_db.execute(query("claim_inference_jobs"), CLAIM).fetchall()) == 1


def test_a_submit_held_open_is_answered_once_after_its_commit(
    db_url: str, worker_url: str, game_url: str, listener: Any
) -> None:
    """A game server that submits inside a long transaction holds the fence all along: the idle
    worker stops looking after FENCE_PATIENCE_S, keeps serving others, and answers the held job
    (once) after its commit, by the backstop poll or the next NOTIFY."""
    deploy_actor(db_url, "aggressive", "1.0")
    with psycopg.connect(game_url, autocommit=True) as other:
        sync_pack(other, [4001, 4002], "aggressive")
        sync_pack(other, [4101, 4102], "aggressive", map_id=2)
        with worker_process(worker_url), psycopg.connect(game_url) as held:
            held_job = request_pack(held, [4001, 4002], "aggressive")  # not committed
            time.sleep(0.5)  # the worker went idle with the fence held
            other_job = request_pack(other, [4101, 4102], "aggressive")
            assert set(collect_decisions(listener, {other_job})) == {other_job}
            held.commit()
            decisions = collect_decisions(listener, {held_job})
    assert [d["status"] for d in decisions[held_job]] == ["done"]


def test_a_dead_idle_worker_is_not_notified(
    game: Any, worker_db: Any, jobs_listener: Any, admin: Any
) -> None:
    """A worker killed while idle leaves `waiting` set; once its heartbeat is stale, submits stop
    paying for a NOTIFY nobody reads."""
    go_idle(worker_db)
    admin.execute("UPDATE ml.workers SET heartbeat_at = now() - interval '1 minute'")
    submit(game)
    assert notified(jobs_listener) == []
