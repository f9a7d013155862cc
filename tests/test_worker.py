"""The worker end to end: real PostgreSQL, a real exported ONNX actor, a real worker process."""

from __future__ import annotations

import math
import signal
from typing import Any

import numpy as np
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

PACK = [1001, 1002, 1003, 1004, 1005]


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def job_rows(admin: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return admin.execute(
        "SELECT id, kind, status, attempts, error FROM ml.inference_jobs ORDER BY id"
    ).fetchall()


def test_pack_decision_arrives_on_ml_decisions_and_in_the_table(
    db_url: str, worker_url: str, game: Any, listener: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    with worker_process(worker_url):
        job = request_pack(game, PACK, "aggressive")
        decisions = collect_decisions(listener, {job})
    assert len(decisions[job]) == 1
    note = decisions[job][0]
    assert note["status"] == "done"
    assert [a["monster_id"] for a in note["actions"]] == PACK
    for action in note["actions"]:
        assert 0 <= action["action"] <= 6
        assert 0.0 < action["confidence"] <= 1.0
        assert isinstance(action["coordinated"], bool)
    assert 0.0 <= note["coordination_score"] <= 1.0
    for action in note["actions"]:  # the job's score for the coordinated, else nothing
        expected = note["coordination_score"] if action["coordinated"] else 0.0
        assert action["coordination_bonus"] == expected
    stored = game.execute("SELECT ml.decision_result(%s)", (job,)).fetchone()[0]
    assert stored["actions"] == note["actions"]
    assert stored["status"] == "done"
    # The same answer as typed rows, in the order of the request.
    typed = game.execute("SELECT * FROM ml.decision_actions(%s)", (job,)).fetchall()
    assert [
        {"monster_id": m, "action": a, "confidence": pytest.approx(c), "coordinated": k,
         "coordination_bonus": pytest.approx(b)}
        for m, a, c, k, b, _reason in typed
    ] == note["actions"]  # fmt: skip


def test_a_batch_too_large_to_notify_is_announced_and_read_back(
    db_url: str, worker_url: str, game: Any, listener: Any
) -> None:
    """A NOTIFY payload holds about 80 answers: a batch of 120 is announced with "truncated",
    and read in full with ml.decision_result or ml.decision_actions."""
    deploy_actor(db_url, "aggressive", "1.0")
    batch = list(range(2001, 2121))
    for k in range(0, len(batch), 5):  # 24 packs of 5, each on its own map
        sync_pack(game, batch[k : k + 5], "aggressive", map_id=k)
    with worker_process(worker_url):
        job = request_pack(game, batch, "aggressive")
        note = collect_decisions(listener, {job})[job][0]
    assert note == {"job_id": job, "status": "done", "truncated": True}
    stored = game.execute("SELECT ml.decision_result(%s)", (job,)).fetchone()[0]
    assert [a["monster_id"] for a in stored["actions"]] == batch
    typed = game.execute(
        "SELECT monster_id, action FROM ml.decision_actions(%s)", (job,)
    ).fetchall()
    assert typed == [(a["monster_id"], a["action"]) for a in stored["actions"]]


def test_packed_states_are_answered_and_a_nan_among_them_fails_its_job_alone(
    db_url: str, worker_url: str, game: Any, listener: Any
) -> None:
    """ml.request_pack_actions_packed end to end: the answer is a pack's answer; a NaN inside
    the bytes (which the database does not read) fails that job in the worker, naming the
    monster, while the other job is answered."""
    deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    states = np.random.default_rng(3).uniform(-1, 1, (5, 64)).astype("<f4")
    poisoned = states[:2].copy()
    poisoned[1, 0] = np.nan
    submit = "SELECT ml.request_pack_actions_packed(%s::int[], %s::text[], %s::bytea)"
    with worker_process(worker_url):
        good = game.execute(submit, (PACK, ["aggressive"] * 5, states.tobytes())).fetchone()[0]
        bad = game.execute(submit, (PACK[:2], ["aggressive"] * 2, poisoned.tobytes())).fetchone()[0]
        notes = collect_decisions(listener, {good, bad})
    answer = notes[good][0]
    assert answer["status"] == "done"
    assert [a["monster_id"] for a in answer["actions"]] == PACK
    assert all(0 <= a["action"] <= 6 for a in answer["actions"])
    failed = game.execute("SELECT ml.decision_result(%s)", (bad,)).fetchone()[0]
    assert failed["status"] == notes[bad][0]["status"] == "failed"
    assert failed["error"] == f"state vector of monster {PACK[1]} contains NaN or infinity"
    assert "actions" not in failed  # a failed job has no answer, only its error


def test_archetype_without_model_gets_traditional_ai_with_reason(
    worker_url: str, game: Any, listener: Any
) -> None:
    sync_pack(game, PACK[:2], "mage")
    with worker_process(worker_url):
        job = request_pack(game, PACK[:2], "mage")
        note = collect_decisions(listener, {job})[job][0]
    assert note["status"] == "done"
    assert {a["action"] for a in note["actions"]} == {255}
    assert all("no deployed pack_coordination model" in a["reason"] for a in note["actions"])


def test_reasons_stay_with_their_monsters_in_a_round_of_mixed_jobs(
    db_url: str, worker_url: str, game: Any, listener: Any
) -> None:
    """Jobs committed together are answered in one round, whose per-monster arrays run back to
    back: the reasons of the monsters without a model land on those monsters only, and a job
    without any gets none."""
    deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK[:3], "aggressive")
    sync_pack(game, [1101, 1102], "mage", map_id=1)
    typed = "SELECT ml.request_pack_actions(%s::int[], %s::text[], %s::real[])"
    with worker_process(worker_url):
        with game.transaction():  # one commit: the worker finds the three at once
            mixed, plain, mage = (
                game.execute(typed, (ids, kinds, [[0.1] * 64 for _ in ids])).fetchone()[0]
                for ids, kinds in [
                    ([PACK[0], 1101], ["aggressive", "mage"]),
                    (PACK[1:3], ["aggressive"] * 2),
                    ([1102], ["mage"]),
                ]
            )
        notes = collect_decisions(listener, {mixed, plain, mage})
    reason = "no deployed pack_coordination model for archetype 'mage'"
    first, second = notes[mixed][0]["actions"]
    assert "reason" not in first
    assert 0 <= first["action"] <= 6
    assert (second["action"], second["reason"]) == (255, reason)
    assert all("reason" not in a for a in notes[plain][0]["actions"])
    assert [(a["action"], a["reason"]) for a in notes[mage][0]["actions"]] == [(255, reason)]


def test_legacy_gateway_protocol_unchanged(db_url: str, worker_url: str, game: Any) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    rng = np.random.default_rng(3)
    with worker_process(worker_url):
        # A first request may wait for the worker's start; the protocol tolerates that.
        first = gateway_insert(game, 7001, [float(x) for x in rng.uniform(-1, 1, 64)])
        assert gateway_poll(game, first, timeout_s=30) is not None
        request = gateway_insert(game, 7002, [float(x) for x in rng.uniform(-1, 1, 64)])
        answer = gateway_poll(game, request, timeout_s=5)
        assert answer is not None
        action, confidence = answer
        assert 0 <= action <= 9
        assert 0.0 < confidence <= 1.0
        row = game.execute(
            "SELECT status FROM ai_requests WHERE request_id = %s", (request,)
        ).fetchone()
        assert row == ("completed",)


def test_request_marked_timeout_is_still_answered_and_recorded(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    request = gateway_insert(game, 7101, [0.1] * 64)
    # The gateway gave up before any worker ran: its own UPDATE, unchanged.
    game.execute("UPDATE ai_requests SET status = 'timeout' WHERE request_id = %s", (request,))
    with worker_process(worker_url):
        assert gateway_poll(game, request, timeout_s=30) is not None
    status = game.execute("SELECT status FROM ai_requests WHERE request_id = %s", (request,))
    assert status.fetchone() == ("timeout",)
    response = admin.execute(
        "SELECT model_version, inference_time_ms FROM ml.ai_responses WHERE request_id = %s",
        (request,),
    ).fetchone()
    assert response[0] == "1.0"
    assert response[1] >= 0


@pytest.mark.parametrize(
    ("state", "archetype", "reason"),
    [
        pytest.param(
            [0.1] * 63, "aggressive", "state vector must have 64 floats, got 63", id="63-floats"
        ),
        pytest.param([0.1] * 63 + [math.nan], "aggressive", "NaN", id="nan"),
        pytest.param([0.1] * 64, "dragon", "unknown archetype 'dragon'", id="unknown-archetype"),
    ],
)
def test_bad_gateway_request_fails_alone_with_its_reason(
    db_url: str,
    worker_url: str,
    game: Any,
    admin: Any,
    state: list[float],
    archetype: str,
    reason: str,
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    good_before = gateway_insert(game, 7201, [0.2] * 64)
    bad = gateway_insert(game, 7202, state, archetype)
    good_after = gateway_insert(game, 7203, [0.3] * 64)
    with worker_process(worker_url):
        answers = {r: gateway_poll(game, r, timeout_s=30) for r in (good_before, bad, good_after)}
    assert answers[bad] == (255, 0.0)
    for good in (good_before, good_after):
        answer = answers[good]
        assert answer is not None
        assert answer[0] != 255
    recorded = admin.execute(
        "SELECT r.reason, q.status, j.status, j.error FROM ml.ai_responses r "
        "JOIN ml.ai_requests q USING (request_id) "
        "JOIN ml.inference_jobs j ON j.gateway_request_id = q.request_id WHERE q.request_id = %s",
        (bad,),
    ).fetchone()
    assert reason in recorded[0]
    assert recorded[1:3] == ("failed", "failed")
    assert reason in recorded[3]


def test_sigterm_drains_and_marks_the_worker_stopped(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    with worker_process(worker_url, worker_id="drain") as process:
        jobs = [request_pack(game, PACK, "aggressive") for _ in range(20)]
        assert wait_until(
            lambda: (
                admin.execute(
                    "SELECT count(*) FROM ml.inference_jobs WHERE status = 'done'"
                ).fetchone()[0]
                == len(jobs)
            )
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    row = admin.execute("SELECT status FROM ml.workers WHERE worker_id = 'drain'").fetchone()
    assert row == ("stopped",)
    assert all(r[2] == "done" for r in job_rows(admin))


def test_refused_model_keeps_the_old_one_and_records_why(
    db_url: str, worker_url: str, game: Any, listener: Any, admin: Any
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    with worker_process(worker_url):
        first = request_pack(game, PACK, "aggressive")
        assert collect_decisions(listener, {first})[first][0]["model_version"] == "1.0"
        # A model whose bytes are not an actor at all: the worker must refuse it.
        broken = admin.execute(
            "INSERT INTO ml_models (archetype, model_type, model_name, version, onnx_fp32, "
            "state_dim, signal_dim, action_dim, hidden_dim) VALUES ('aggressive', "
            "'pack_coordination', 'broken', '2.0', %s, 64, 32, 7, 0) RETURNING id",
            (b"not an onnx file",),
        ).fetchone()[0]
        admin.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (broken,))
        assert wait_until(
            lambda: (
                admin.execute(
                    "SELECT load_error FROM ml_models WHERE id = %s", (broken,)
                ).fetchone()[0]
                is not None
            )
        )
        second = request_pack(game, PACK, "aggressive")
        note = collect_decisions(listener, {second})[second][0]
    assert note["status"] == "done"
    assert note["model_version"] == "1.0"
    error = admin.execute("SELECT load_error FROM ml_models WHERE id = %s", (broken,)).fetchone()[0]
    assert "cannot load" in error


def test_unknown_job_and_cancel(game: Any) -> None:
    with pytest.raises(psycopg.errors.NoDataFound, match="no decision job 424242"):
        game.execute("SELECT ml.decision_result(424242)")
    sync_pack(game, PACK[:2], "tank")
    job = request_pack(game, PACK[:2], "tank")
    assert game.execute("SELECT ml.cancel_decision(%s)", (job,)).fetchone() == (True,)
    assert game.execute("SELECT ml.cancel_decision(%s)", (job,)).fetchone() == (False,)
    result = game.execute("SELECT ml.decision_result(%s)", (job,)).fetchone()[0]
    assert result["status"] == "cancelled"
    assert game.execute("SELECT * FROM ml.decision_actions(%s)", (job,)).fetchall() == []
    with pytest.raises(psycopg.errors.NoDataFound, match="no decision job 424242"):
        game.execute("SELECT * FROM ml.decision_actions(424242)")
