"""The legacy gateway served by a `combat` model (the game server's 10 executable actions and DEFER,
answered 255) and, for
an archetype without one, by the pack actor through ml.legacy_action_map: real PostgreSQL, real
exported ONNX files from the registry, a real worker process, the gateway's own INSERT and poll.

The worker runs CPU-only here, so it serves each model's INT8 file; the tests run that same
registered file in onnxruntime on the same inputs (each request alone in its round, as the worker
batches it) and compare."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import onnxruntime as ort
import psycopg
import pytest
import torch

from config.model_types import ACTION_DIMS, COMBAT, DEFER, drawn_actions
from models.export.onnx import export_actor, export_fp32
from models.export.registry import RegistrationError, register_actor_sync
from models.networks.ctde import DecentralizedActor
from plpython.decisions import DEFERRED
from tests.ctde_helpers import SMALL_HIDDEN, small_export
from tests.worker_helpers import (
    collect_decisions,
    combat_export,
    deploy_actor,
    gateway_insert,
    gateway_poll,
    request_pack,
    served,
    sync_pack,
    wait_until,
    worker_process,
)

PACK = [1001, 1002, 1003, 1004, 1005]
#: A legacy request's monster_id is the mob's type id: every Poring sends 1002.
PORING = 1002
CPU_ONLY = {"RAGNAROK_WORKER_CPU_ONLY": "1"}
SIGNALS = np.zeros((1, 32), dtype=np.float32)


def random_states(seed: int, n: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [[round(float(x), 4) for x in rng.uniform(-1, 1, 64)] for _ in range(n)]


def answer_of(game: Any, admin: Any, request_id: int, timeout_s: float = 10.0) -> dict[str, Any]:
    """The gateway's poll for `request_id`, then what else the database recorded with it."""
    polled = gateway_poll(game, request_id, timeout_s)
    assert polled is not None, f"request {request_id} not answered"
    action, confidence, version, reason = admin.execute(
        "SELECT action_id, confidence, model_version, reason FROM ml.ai_responses "
        "WHERE request_id = %s",
        (request_id,),
    ).fetchone()
    assert (action, confidence) == polled
    return {"action": action, "confidence": confidence, "version": version, "reason": reason}


def stored_state(admin: Any, request_id: int) -> np.ndarray:
    """The request's state as the database stored it (float4), as the worker reads it."""
    row = admin.execute(
        "SELECT q.state_vector, j.signal_rows FROM ml.ai_requests q "
        "JOIN ml.inference_jobs j ON j.gateway_request_id = q.request_id WHERE q.request_id = %s",
        (request_id,),
    ).fetchone()
    assert row[1] == []  # no signals in these tests: the pack actor's signals are zeros too
    return np.asarray([row[0]], dtype=np.float32)


def legacy_map(admin: Any) -> dict[int, int]:
    return dict(admin.execute("SELECT pack_action, legacy_action FROM ml.legacy_action_map"))


def pack_states(admin: Any, job: int) -> np.ndarray:
    states, signal_rows = admin.execute(
        "SELECT states, signal_rows FROM ml.inference_jobs WHERE id = %s", (job,)
    ).fetchone()
    assert signal_rows == []
    return np.asarray(states, dtype=np.float32)


def pack_answer(listener: Any, job: int) -> tuple[list[int], list[float], str]:
    [note] = collect_decisions(listener, {job})[job]
    assert note["status"] == "done", note
    actions = note["actions"]
    return [a["action"] for a in actions], [a["confidence"] for a in actions], note["model_version"]


def run_pack(
    actor: ort.InferenceSession, states: np.ndarray, hidden: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    probs, hidden_out = actor.run(
        None,
        {"state": states, "signals": np.zeros((len(states), 32), np.float32), "hidden": hidden},
    )
    return probs, hidden_out


def zero_hidden(n: int) -> np.ndarray:
    return np.zeros((n, SMALL_HIDDEN), dtype=np.float32)


def test_a_gateway_request_is_answered_by_the_archetypes_combat_model(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """(a) The legacy gateway's own INSERT and poll, for an archetype with a deployed combat
    model (and a pack actor beside it, which must not be used): each answer's action_id is the
    action the registered combat file's probabilities give on the request's state with zero
    signals, drawn by that state (config.model_types.drawn_actions), the legacy action id itself
    (0-9, no mapping; DEFER answered 255), with its probability as the confidence and the combat
    model's version on the response."""
    deploy_actor(db_url, "aggressive", "1.0")
    combat = deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    combat_file = served(admin, combat)
    answered = []
    with worker_process(worker_url, extra_env=CPU_ONLY):
        for k, state in enumerate(random_states(11, 8)):
            request = gateway_insert(game, PORING + k, state)
            answered.append((request, answer_of(game, admin, request, timeout_s=30)))
    for request, answer in answered:
        feeds = {"state": stored_state(admin, request), "signals": SIGNALS}
        [[probs]] = combat_file.run(None, feeds)  # one output, one row
        assert probs.shape == (11,)
        [chosen] = drawn_actions(probs[None], feeds["state"]).tolist()
        if chosen == DEFER:  # the model leaves it to the traditional AI
            assert (answer["action"], answer["reason"], answer["confidence"]) == (255, DEFERRED, 0)
        else:
            assert (answer["action"], answer["reason"]) == (chosen, None)
            assert answer["confidence"] == pytest.approx(float(probs[chosen]), rel=1e-5)
        assert answer["version"] == "c1"
    statuses = admin.execute(
        "SELECT DISTINCT status FROM ml.ai_requests WHERE request_id = ANY(%s)",
        ([r for r, _ in answered],),
    ).fetchall()
    assert statuses == [("completed",)]


def test_without_a_combat_model_the_pack_actor_answers_through_the_legacy_map(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """(b) The same gateway request for an archetype with only a pack actor (a combat model is
    deployed for another archetype): the pack actor's argmax, from a zero GRU state, mapped
    through ml.legacy_action_map, with the pack actor's version."""
    pack = deploy_actor(db_url, "aggressive", "1.0")
    deploy_actor(db_url, "tank", "c1", combat_export(), model_type="combat")
    pack_file = served(admin, pack)
    mapping = legacy_map(admin)
    answered = []
    with worker_process(worker_url, extra_env=CPU_ONLY):
        for k, state in enumerate(random_states(12, 5)):
            request = gateway_insert(game, PORING + k, state, "aggressive")
            answered.append((request, answer_of(game, admin, request, timeout_s=30)))
    for request, answer in answered:
        probs, _ = run_pack(pack_file, stored_state(admin, request), zero_hidden(1))
        assert answer["action"] == mapping[int(probs.argmax())]
        assert answer["confidence"] == pytest.approx(float(probs.max()), rel=1e-5)
        assert answer["version"] == "1.0"


def test_legacy_requests_carry_no_recurrent_state_and_pack_jobs_still_do(
    db_url: str, worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """(c) A GRU pack actor answering the gateway (no combat model): two requests with the same
    monster_id (a mob type id) and the same state get the same answer, the one from a zero GRU
    state, even though that id is also a pack monster's whose state ml.monster_memory keeps. Pack
    jobs still carry their GRU states: the second job of the same pack is answered from the states
    the first left, untouched by the gateway requests in between (neither read nor overwritten)."""
    pack = deploy_actor(db_url, "aggressive", "1.0")
    pack_file = served(admin, pack)
    mapping = legacy_map(admin)
    sync_pack(game, PACK, "aggressive")
    [state] = random_states(13, 1)
    with worker_process(worker_url, extra_env=CPU_ONLY):
        first_job = request_pack(game, PACK, "aggressive")
        first = pack_answer(listener, first_job)
        requests, answers = [], []
        for _ in range(2):  # one after the other: the second after the first was answered
            requests.append(gateway_insert(game, PACK[0], state))
            answers.append(answer_of(game, admin, requests[-1]))
        second_job = request_pack(game, PACK, "aggressive")
        second = pack_answer(listener, second_job)

    # The two legacy requests: one answer, the zero-state one.
    assert answers[0] == answers[1]
    probs, _ = run_pack(pack_file, stored_state(admin, requests[0]), zero_hidden(1))
    assert answers[0]["action"] == mapping[int(probs.argmax())]
    assert answers[0]["confidence"] == pytest.approx(float(probs.max()), rel=1e-5)

    # The pack jobs: the first from zeros, the second from the first's hidden_out.
    states = pack_states(admin, first_job)
    np.testing.assert_array_equal(states, pack_states(admin, second_job))
    probs_1, hidden_1 = run_pack(pack_file, states, zero_hidden(len(PACK)))
    probs_2, _ = run_pack(pack_file, states, hidden_1)
    for (actions, confidences, version), probs in ((first, probs_1), (second, probs_2)):
        assert actions == probs.argmax(axis=1).tolist()
        assert confidences == pytest.approx(probs.max(axis=1).tolist(), rel=1e-5)
        assert version == "1.0"
    assert first[1] != pytest.approx(second[1], rel=1e-5)  # the carried state made a difference


def insert_combat_row(admin: Any, version: str, onnx_fp32: bytes, action_dim: int) -> int:
    """A combat model written past the registry (which refuses both shapes tested here), deployed:
    the operator's INSERT and UPDATE."""
    model_id = admin.execute(
        "INSERT INTO ml_models (archetype, model_type, model_name, version, onnx_fp32, "
        "state_dim, signal_dim, action_dim, hidden_dim) "
        "VALUES ('aggressive', 'combat', 'unfit', %s, %s, 64, 32, %s, 0) RETURNING id",
        (version, onnx_fp32, action_dim),
    ).fetchone()[0]
    admin.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (model_id,))
    return int(model_id)


def load_error(admin: Any, model_id: int) -> str | None:
    row = admin.execute("SELECT load_error FROM ml_models WHERE id = %s", (model_id,)).fetchone()
    return None if row[0] is None else str(row[0])


def test_an_unfit_combat_model_is_refused_with_its_reason_and_the_previous_one_serves(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """(d) A combat model with 7 outputs (a pack actor's width), then one with a recurrent input
    'hidden', each deployed while combat model c1 serves: the worker refuses each with the reason
    on its ml_models row, and gateway requests are still answered by c1. The registry refuses
    both shapes before they are written."""
    deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    gru_combat = DecentralizedActor(action_dim=11, hidden_dim=SMALL_HIDDEN, use_gru=True).eval()
    with psycopg.connect(db_url) as conn:
        with pytest.raises(RegistrationError, match="answers 11 actions, this export 7"):
            register_actor_sync(
                conn, small_export(), archetype="aggressive", version="x", model_type="combat"
            )
        recurrent = dataclasses.replace(combat_export(), hidden_dim=SMALL_HIDDEN)
        with pytest.raises(RegistrationError, match="no recurrent state"):
            register_actor_sync(
                conn, recurrent, archetype="aggressive", version="x", model_type="combat"
            )
    states = random_states(14, 3)
    with worker_process(worker_url, extra_env=CPU_ONLY):
        before = answer_of(game, admin, gateway_insert(game, PORING, states[0]), timeout_s=30)
        assert before["version"] == "c1"
        unfit_models = (
            ("c2", small_export().onnx_fp32, 7, "width 7, expected 11 combat actions", states[1]),
            ("c3", export_fp32(gru_combat), 11, "has a recurrent input 'hidden'", states[2]),
        )  # fmt: skip
        for version, onnx_fp32, action_dim, reason, state in unfit_models:
            unfit = insert_combat_row(admin, version, onnx_fp32, action_dim)
            assert wait_until(lambda: load_error(admin, unfit) is not None)  # noqa: B023
            assert reason in (load_error(admin, unfit) or "")
            after = answer_of(game, admin, gateway_insert(game, PORING, state))
            assert after["version"] == "c1"
            assert 0 <= after["action"] <= 9 or after["action"] == 255


def test_deploying_a_combat_model_leaves_pack_jobs_as_they_were(
    db_url: str, worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """(e) A pack job, then a combat model deployed for the same archetype (loaded: a gateway
    request is answered with its version), then the same pack job again: both pack answers are
    the pack actor's (version 1.0), the second from the GRU states the first left, exactly what
    they would be without the combat model (its load neither replaced the pack session nor
    touched its monsters' memory)."""
    pack = deploy_actor(db_url, "aggressive", "1.0")
    pack_file = served(admin, pack)
    sync_pack(game, PACK, "aggressive")
    [state] = random_states(15, 1)
    with worker_process(worker_url, extra_env=CPU_ONLY):
        first_job = request_pack(game, PACK, "aggressive")
        first = pack_answer(listener, first_job)
        deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
        assert wait_until(
            lambda: answer_of(game, admin, gateway_insert(game, PORING, state))["version"] == "c1",
            every_s=0.2,
        )
        second_job = request_pack(game, PACK, "aggressive")
        second = pack_answer(listener, second_job)
    states = pack_states(admin, first_job)
    probs_1, hidden_1 = run_pack(pack_file, states, zero_hidden(len(PACK)))
    probs_2, _ = run_pack(pack_file, states, hidden_1)
    for (actions, confidences, version), probs in ((first, probs_1), (second, probs_2)):
        assert all(0 <= a <= 6 for a in actions)
        assert actions == probs.argmax(axis=1).tolist()
        assert confidences == pytest.approx(probs.max(axis=1).tolist(), rel=1e-5)
        assert version == "1.0"


def test_a_combat_model_that_defers_answers_255_with_the_reason(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """(f) DEFER, the combat model's eleventh output: a model whose DEFER logit dominates answers
    every gateway request 255 (the game server runs its traditional AI), with its version and the
    reason on the response; like every 255 answer, confidence 0 (the model's own probability of
    deferring stays on the job row)."""
    torch.manual_seed(2)
    actor = DecentralizedActor(
        action_dim=ACTION_DIMS[COMBAT], hidden_dim=SMALL_HIDDEN, use_gru=False
    ).eval()
    with torch.no_grad():
        head = actor.decision[-1]
        assert isinstance(head, torch.nn.Linear)
        head.bias[DEFER] = 20.0
    deploy_actor(
        db_url, "aggressive", "d1", export_actor(actor, agreement_samples=512), model_type="combat"
    )
    with worker_process(worker_url, extra_env=CPU_ONLY):
        answers = [
            answer_of(game, admin, gateway_insert(game, PORING, state), timeout_s=30)
            for state in random_states(16, 3)
        ]
    for answer in answers:
        assert (answer["action"], answer["reason"], answer["version"]) == (255, DEFERRED, "d1")
        assert answer["confidence"] == 0
