"""No lost and no doubled job: SIGKILL mid-batch, two workers, hot reload and a database restart,
each under load, with a real worker process against the real server."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any

import psycopg
import pytest

from tests.worker_helpers import (
    REPO,
    collect_decisions,
    deploy_actor,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

PACKS = [[m + 10 * k for m in range(1, 6)] for k in range(1, 21)]  # 20 packs of 5


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        for pack in PACKS:
            sync_pack(conn, pack, "aggressive", map_id=pack[0])
        yield conn


def submit_load(
    game_url: str, jobs: list[int], count: int, pause_s: float = 0.002
) -> threading.Thread:
    """A game server submitting `count` pack requests from its own connection."""

    def run() -> None:
        with psycopg.connect(game_url, autocommit=True) as conn:
            for i in range(count):
                jobs.append(request_pack(conn, PACKS[i % len(PACKS)], "aggressive"))
                time.sleep(pause_s)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def assert_each_answered_once(
    admin: Any, listener: Any, jobs: list[int], timeout_s: float = 60.0
) -> None:
    decisions = collect_decisions(listener, set(jobs), timeout_s=timeout_s)
    missing = sorted(set(jobs) - set(decisions))
    assert missing == []
    doubled = {job: len(notes) for job, notes in decisions.items() if len(notes) != 1}
    assert doubled == {}
    statuses = admin.execute(
        "SELECT status, count(*) FROM ml.inference_jobs GROUP BY status ORDER BY status"
    ).fetchall()
    assert statuses == [("done", len(jobs))]


def test_sigkill_mid_batch_loses_and_doubles_nothing(
    db_url: str, worker_url: str, game_url: str, game: Any, listener: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    jobs: list[int] = []
    with worker_process(worker_url, worker_id="doomed", lease_s=1.0) as doomed:
        load = submit_load(game_url, jobs, 400)
        assert wait_until(lambda: len(jobs) > 100)
        os.kill(doomed.pid, signal.SIGKILL)  # mid-batch: no chance to answer or give back
        doomed.wait()
        with worker_process(worker_url, worker_id="rescuer", lease_s=1.0):
            load.join()
            assert_each_answered_once(admin, listener, jobs)


def test_two_workers_never_answer_one_job_twice(
    db_url: str, worker_url: str, game_url: str, game: Any, listener: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    jobs: list[int] = []
    with worker_process(worker_url, worker_id="a"), worker_process(worker_url, worker_id="b"):
        load = submit_load(game_url, jobs, 400, pause_s=0.0)
        load.join()
        assert_each_answered_once(admin, listener, jobs)
    workers = admin.execute("SELECT worker_id, jobs_done FROM ml.workers ORDER BY 1").fetchall()
    assert [w for w, _ in workers] == ["a", "b"]


def answered(game: Any, job: int) -> bool:
    row = game.execute("SELECT ml.decision_result(%s)", (job,)).fetchone()
    return row is not None and row[0] is not None and row[0].get("status") == "done"


def test_hot_reload_under_load_fails_no_request(
    db_url: str, worker_url: str, game_url: str, game: Any, listener: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    jobs: list[int] = []
    with worker_process(worker_url):
        load = submit_load(game_url, jobs, 300)
        # The deploy comes once the worker serves 1.0 (on a loaded machine the worker may start
        # after the first hundred requests are queued, and would answer them all with 2.0).
        assert wait_until(lambda: len(jobs) > 100 and answered(game, jobs[0]), timeout_s=60)
        new_model = deploy_actor(db_url, "aggressive", "2.0")
        load.join()
        decisions = collect_decisions(listener, set(jobs), timeout_s=60)
    assert sorted(decisions) == sorted(jobs)
    notes = [decisions[j][0] for j in jobs]
    assert all(n["status"] == "done" for n in notes)
    assert all(a["action"] != 255 for n in notes for a in n["actions"])
    versions = [n["model_version"] for n in notes]
    assert versions[0] == "1.0"
    assert versions[-1] == "2.0"  # served by the new model once it was loaded
    deployed = admin.execute("SELECT id FROM ml_models WHERE is_deployed").fetchall()
    assert deployed == [(new_model,)]


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="restarts the project's development server; an external one is not ours to restart",
)
def test_worker_recovers_from_a_database_restart(
    db_url: str, worker_url: str, game_url: str, game: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    before = request_pack(game, PACKS[0], "aggressive")
    with worker_process(worker_url, worker_id="survivor") as process:
        assert wait_until(
            lambda: (
                admin.execute(
                    "SELECT status FROM ml.inference_jobs WHERE id = %s", (before,)
                ).fetchone()[0]
                == "done"
            )
        )
        restart = subprocess.run(
            ["bash", os.path.join(REPO, "scripts", "db_server.sh"), "restart"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert restart.returncode == 0, restart.stderr
        with psycopg.connect(game_url, autocommit=True) as conn:
            after = [request_pack(conn, PACKS[k], "aggressive") for k in range(1, 6)]
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert wait_until(
                lambda: (
                    conn.execute(
                        "SELECT count(*) FROM ml.inference_jobs "
                        "WHERE id = ANY(%s) AND status = 'done'",
                        (after,),
                    ).fetchone()
                    == (len(after),)
                ),
                timeout_s=60,
            )
        assert process.poll() is None  # it never exited: it reconnected by itself


def test_a_job_whose_answer_cannot_be_written_fails_alone_after_its_attempts(
    db_url: str, worker_url: str, game: Any, listener: Any, admin: Any
) -> None:
    """The round's one answer statement fails when one job's answer cannot be stored (here a
    constraint the test adds refuses it): the worker answers that round job by job, the others
    are answered, and the poisoned one is retried up to its maximum, then dead with the error and
    announced, not retried round after round forever."""
    deploy_actor(db_url, "aggressive", "1.0")
    poisoned = request_pack(game, PACKS[0], "aggressive")
    healthy = request_pack(game, PACKS[1], "aggressive")  # claimed in the same round
    admin.execute(
        "ALTER TABLE ml.inference_jobs ADD CONSTRAINT poison "
        f"CHECK (id <> {int(poisoned)} OR status IN ('pending', 'running', 'dead'))"
    )
    with worker_process(worker_url):
        decisions = collect_decisions(listener, {poisoned, healthy})
    assert [d["status"] for d in decisions[healthy]] == ["done"]
    [note] = decisions[poisoned]
    assert note["status"] == "dead"
    assert "its answer could not be written" in note["error"]
    assert '"poison"' in note["error"]
    row = admin.execute(
        "SELECT status, attempts, max_attempts FROM ml.inference_jobs WHERE id = %s", (poisoned,)
    ).fetchone()
    assert row == ("dead", 3, 3)
