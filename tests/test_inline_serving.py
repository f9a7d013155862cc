"""Decisions inside the database (docs/inline_serving.md): ml.decide_pack and the legacy gateway
answered in the caller's own statement, by ONNX Runtime in the server's Python, against the real
server and real exported actors.

What each bad input gets: a monster the game server never synced P0002; a packed state with NaN
ML004 naming the monster; ragged or oversized requests their ML005/ML004/ML009 before anything
is decided; any call while serving.mode is 'worker' ML010; a backend without ONNX Runtime ML011.
A gateway request is never refused: malformed, of an unknown archetype, or without a model it is
answered 255 with the reason; so is a model whose output is not finite or that fails to run.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
import psycopg
import pytest
from onnx import TensorProto, helper

from plpython.decisions import DEFERRED
from plpython.model_types import DEFER, drawn_actions
from tests.ctde_helpers import SMALL_HIDDEN
from tests.worker_helpers import (
    collect_decisions,
    combat_export,
    deploy_actor,
    gateway_insert,
    random_state,
    request_pack,
    served,
    sync_pack,
    worker_process,
)

TYPED = "SELECT * FROM ml.decide_pack(%s::integer[], %s::text[], %s::real[])"
PACKED = "SELECT * FROM ml.decide_pack_packed(%s::integer[], %s::text[], %s::bytea)"
JSON_FORM = "SELECT * FROM ml.decide_pack(%s::jsonb)"
PACK = [2001, 2002, 2003]


def set_mode(admin: Any, mode: str) -> None:
    admin.execute(
        "UPDATE ml.config SET value = to_jsonb(%s::text) WHERE key = 'serving.mode'", (mode,)
    )


@pytest.fixture
def inline(admin: Any) -> Any:
    set_mode(admin, "inline")
    return admin


def states_for(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray([random_state(rng) for _ in range(n)], dtype=np.float32)


def decide(game: Any, ids: list[int], archetype: str, states: np.ndarray) -> list[dict[str, Any]]:
    cur = game.execute(TYPED, (ids, [archetype] * len(ids), states.tolist()))
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def memory_of(admin: Any, model_id: int, monster: int) -> np.ndarray | None:
    row = admin.execute(
        "SELECT hidden FROM ml.monster_memory WHERE model_id = %s AND monster_id = %s",
        (model_id, monster),
    ).fetchone()
    return None if row is None else np.frombuffer(bytes(row[0]), dtype="<f4")


def test_a_pack_is_decided_in_the_statement_and_remembers_its_ticks(
    db_url: str, inline: Any, game: Any
) -> None:
    """Two ticks of a pack: each monster's action is the argmax of the deployed file's output
    on its state, its pack's signals (none) and the recurrent state its last tick left, which is
    kept in ml.monster_memory between the two statements."""
    model = deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    actor = served(inline, model)
    hidden = np.zeros((len(PACK), SMALL_HIDDEN), np.float32)
    for tick in range(2):
        states = states_for(tick, len(PACK))
        rows = decide(game, PACK, "tank", states)
        probs, hidden = actor.run(
            None,
            {"state": states, "signals": np.zeros((3, 32), np.float32), "hidden": hidden},
        )
        assert [r["monster_id"] for r in rows] == PACK
        assert [r["action"] for r in rows] == probs.argmax(axis=1).tolist()
        for r, p in zip(rows, probs, strict=True):
            assert r["confidence"] == pytest.approx(float(p.max()), rel=1e-4)
            assert (r["model_version"], r["reason"]) == ("t1", None)
            assert r["inference_ms"] > 0
        for i, monster in enumerate(PACK):
            kept = memory_of(inline, model, monster)
            assert kept is not None
            np.testing.assert_allclose(kept, hidden[i], rtol=1e-4, atol=1e-5)


def test_the_three_forms_give_the_same_answers(db_url: str, inline: Any, game: Any) -> None:
    """Typed, packed and JSON: the same request, the same rows (memory reset between calls)."""
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    states = states_for(7, 3)
    answers = []
    for form in ("typed", "packed", "json"):
        inline.execute("DELETE FROM ml.monster_memory")
        if form == "typed":
            cur = game.execute(TYPED, (PACK, ["tank"] * 3, states.tolist()))
        elif form == "packed":
            cur = game.execute(PACKED, (PACK, ["tank"] * 3, states.astype("<f4").tobytes()))
        else:
            monsters = [
                {"id": m, "archetype": "tank", "state": s.tolist()}
                for m, s in zip(PACK, states, strict=True)
            ]
            cur = game.execute(JSON_FORM, (json.dumps({"monsters": monsters}),))
        answers.append([row[:7] for row in cur.fetchall()])
    assert answers[0] == answers[1] == answers[2]


def test_signals_reach_the_actor(db_url: str, inline: Any, game: Any) -> None:
    """A retreat signal to the pack: the monsters' signal vectors (ml.signal_vectors) are the
    actor's `signals` input, as the worker feeds them."""
    model = deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    game.execute("SELECT ml.send_retreat_signal(2001, 150, 200, 'outnumbered', ARRAY[2002, 2003])")
    vectors = np.asarray(
        game.execute("SELECT ml.signal_vectors(%s)", (PACK,)).fetchone()[0], dtype=np.float32
    )
    assert vectors.any()
    states = states_for(3, 3)
    rows = decide(game, PACK, "tank", states)
    probs, _ = served(inline, model).run(
        None, {"state": states, "signals": vectors, "hidden": np.zeros((3, SMALL_HIDDEN), "f4")}
    )
    assert [r["action"] for r in rows] == probs.argmax(axis=1).tolist()


def test_a_deploy_between_two_calls_switches_the_model(db_url: str, inline: Any, game: Any) -> None:
    """The same connection (one backend, its sessions loaded): the next call after a deploy
    commits answers with the new model, and its memory starts afresh under the new model's id."""
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    states = states_for(5, 3)
    assert {r["model_version"] for r in decide(game, PACK, "tank", states)} == {"t1"}
    second = deploy_actor(db_url, "tank", "t2")
    assert {r["model_version"] for r in decide(game, PACK, "tank", states)} == {"t2"}
    assert memory_of(inline, second, PACK[0]) is not None


def test_no_model_answers_255_with_the_reason(inline: Any, game: Any) -> None:
    sync_pack(game, PACK, "tank")
    rows = decide(game, PACK, "tank", states_for(1, 3))
    assert {(r["action"], r["reason"]) for r in rows} == {
        (255, "no deployed pack_coordination model for archetype 'tank'")
    }


@pytest.mark.parametrize(
    ("ids", "archetypes", "states", "sqlstate"),
    [
        pytest.param([9999], ["tank"], [[0.1] * 64], "P0002", id="unknown-monster"),
        pytest.param([2001], ["dragon"], [[0.1] * 64], "22P02", id="unknown-archetype"),
        pytest.param(
            [2001, 2001], ["tank"] * 2, [[0.1] * 64 for _ in range(2)], "23505", id="twice"
        ),
        pytest.param([2001], ["tank"], [[0.1] * 63], "ML004", id="63-floats"),
        pytest.param([2001], ["tank"], [[float("nan")] * 64], "ML004", id="nan"),
        pytest.param([2001, 2002], ["tank"], [[0.1] * 64 for _ in range(2)], "ML005", id="ragged"),
        pytest.param(list(range(1, 1100)), ["tank"] * 1099, None, "ML009", id="oversized"),
    ],
)
def test_bad_requests_get_their_error_and_write_nothing(
    db_url: str,
    inline: Any,
    game: Any,
    ids: list[int],
    archetypes: list[str],
    states: list[list[float]] | None,
    sqlstate: str,
) -> None:
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    with pytest.raises(psycopg.Error) as caught:
        game.execute(TYPED, (ids, archetypes, states))
    assert caught.value.sqlstate == sqlstate
    assert inline.execute("SELECT count(*) FROM ml.monster_memory").fetchone()[0] == 0


def test_a_packed_state_with_nan_is_ml004_naming_the_monster(
    db_url: str, inline: Any, game: Any
) -> None:
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    states = states_for(2, 3)
    states[1, 5] = np.nan
    with pytest.raises(psycopg.Error) as caught:
        game.execute(PACKED, (PACK, ["tank"] * 3, states.astype("<f4").tobytes()))
    assert caught.value.sqlstate == "ML004"
    assert "monster 2002" in str(caught.value)


def test_worker_mode_refuses_inline_decisions(admin: Any, game: Any) -> None:
    set_mode(admin, "worker")
    sync_pack(game, PACK, "tank")
    with pytest.raises(psycopg.Error) as caught:
        decide(game, PACK, "tank", states_for(1, 3))
    assert caught.value.sqlstate == "ML010"


def without_runtime(conn: Any) -> None:
    """This backend's Python as if onnxruntime were not installed (an import of it fails), and no
    server made yet: what an operator's server without the package does."""
    conn.execute(
        "DO $$ import sys; sys.modules['onnxruntime'] = None; GD.pop('ml_inline_server', None) $$ "
        "LANGUAGE plpython3u"
    )


def test_a_backend_without_onnx_runtime_says_so(db_url: str, inline: Any, game: Any) -> None:
    """decide_pack: ML011 with what to install. The gateway in 'inline' mode: 255 with the same
    reason (the traditional AI plays on); in 'auto': the request goes to the queue."""
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    without_runtime(inline)
    with pytest.raises(psycopg.Error) as caught:
        inline.execute(TYPED, (PACK, ["tank"] * 3, states_for(1, 3).tolist()))
    assert caught.value.sqlstate == "ML011"
    assert "ONNX Runtime is not installed" in str(caught.value)

    inline.execute("SET ROLE ml_user")  # the gateway's INSERT, in this backend
    inline.execute("SET search_path = ml, public")
    request = gateway_insert(inline, 7, [0.1] * 64, archetype="tank")
    inline.execute("RESET ROLE")
    action, reason = inline.execute(
        "SELECT action_id, reason FROM ml.ai_responses WHERE request_id = %s", (request,)
    ).fetchone()
    assert action == 255
    assert "ONNX Runtime is not installed" in reason

    set_mode(inline, "auto")
    inline.execute("SET ROLE ml_user")
    queued = gateway_insert(inline, 7, [0.1] * 64, archetype="tank")
    inline.execute("RESET ROLE")
    assert gateway_answer(inline, queued) is None
    assert inline.execute(
        "SELECT count(*) FROM ml.inference_jobs WHERE gateway_request_id = %s", (queued,)
    ).fetchone() == (1,)


def gateway_answer(admin: Any, request: int) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = admin.execute(
        "SELECT r.action_id, r.confidence, r.model_version, r.reason, q.status "
        "FROM ml.ai_responses r JOIN ml.ai_requests q USING (request_id) WHERE request_id = %s",
        (request,),
    ).fetchone()
    return row


def test_the_gateway_is_answered_inside_its_insert(db_url: str, inline: Any, game: Any) -> None:
    """The gateway's exact INSERT: its answer is there when the INSERT returns (the first poll
    finds it), the request is 'completed' and never queued, and the answer is the combat model's
    as the worker gives it: the action drawn from the INT8 file's policy by the state, DEFER 255."""
    combat = deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    combat_file = served(inline, combat)
    rng = np.random.default_rng(4)
    for k in range(12):
        state = random_state(rng)
        request = gateway_insert(game, 1002 + k, state)
        answer = gateway_answer(inline, request)
        assert answer is not None
        action, confidence, version, reason, status = answer
        assert (version, status) == ("c1", "completed")
        stored = np.asarray([state], dtype=np.float32)
        [probs] = combat_file.run(None, {"state": stored, "signals": np.zeros((1, 32), "f4")})
        [chosen] = drawn_actions(probs, stored).tolist()
        if chosen == DEFER:
            assert (action, confidence, reason) == (255, 0, DEFERRED)
        else:
            assert (action, reason) == (chosen, None)
            assert confidence == pytest.approx(float(probs[0, chosen]), rel=1e-5)
    assert inline.execute("SELECT count(*) FROM ml.inference_jobs").fetchone() == (0,)


def test_a_gateway_request_without_a_combat_model_gets_the_pack_actors_mapped_action(
    db_url: str, inline: Any, game: Any
) -> None:
    model = deploy_actor(db_url, "aggressive", "p1")
    state = [0.25] * 64
    request = gateway_insert(game, 1002, state)
    answer = gateway_answer(inline, request)
    assert answer is not None
    stored = np.asarray([state], dtype=np.float32)
    probs, _ = served(inline, model).run(
        None,
        {"state": stored, "signals": np.zeros((1, 32), "f4"), "hidden": np.zeros((1, 32), "f4")},
    )
    mapping = dict(inline.execute("SELECT pack_action, legacy_action FROM ml.legacy_action_map"))
    assert answer[0] == mapping[int(probs.argmax())]
    assert answer[2] == "p1"


@pytest.mark.parametrize(
    ("state", "archetype", "reason"),
    [
        pytest.param([0.1] * 63, "aggressive", "state vector must have 64 floats, got 63", id="63"),
        pytest.param([float("nan")] * 64, "aggressive", "NaN or infinity", id="nan"),
        pytest.param([0.1] * 64, "dragon", "unknown archetype 'dragon'", id="archetype"),
        pytest.param(
            [0.1] * 64, "tank", "no deployed combat or pack_coordination model", id="no-model"
        ),
    ],
)
def test_a_gateway_request_that_cannot_be_decided_gets_255_and_why(
    db_url: str, inline: Any, game: Any, state: list[float], archetype: str, reason: str
) -> None:
    deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    request = gateway_insert(game, 1002, state, archetype=archetype)
    answer = gateway_answer(inline, request)
    assert answer is not None
    assert answer[0] == 255
    assert reason in answer[3]


def test_auto_leaves_the_gateway_to_a_running_gpu_worker(
    db_url: str, admin: Any, game: Any
) -> None:
    set_mode(admin, "auto")
    deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    inline_answered = gateway_insert(game, 1002, [0.1] * 64)
    assert gateway_answer(admin, inline_answered) is not None
    admin.execute(
        "INSERT INTO ml.workers (worker_id, hostname, pid, providers) "
        "VALUES ('gpu', 'h', 1, ARRAY['CUDAExecutionProvider', 'CPUExecutionProvider'])"
    )
    queued = gateway_insert(game, 1002, [0.1] * 64)
    assert gateway_answer(admin, queued) is None
    assert admin.execute(
        "SELECT count(*) FROM ml.inference_jobs WHERE gateway_request_id = %s", (queued,)
    ).fetchone() == (1,)


def constant_model(output: str) -> bytes:
    """A hand-made actor with the served inputs: `nan` outputs NaN for every action; `broken`
    reshapes every batch to one row, which ONNX Runtime refuses to run for a batch of 3."""
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, ["n", 64])
    signals = helper.make_tensor_value_info("signals", TensorProto.FLOAT, ["n", 32])
    probs = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 7])
    hidden_in = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["n", 4])
    hidden_out = helper.make_tensor_value_info("hidden_out", TensorProto.FLOAT, ["n", 4])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [7])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [helper.make_node("Slice", ["state", "starts", "ends", "axes"], ["first"])]
    if output == "nan":
        nan = helper.make_tensor("nan", TensorProto.FLOAT, [1], [float("nan")])
        nodes.append(helper.make_node("Mul", ["first", "nan"], ["probs"]))
        inits = [starts, ends, axes, nan]
    else:
        shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 7])
        nodes.append(helper.make_node("Reshape", ["first", "shape"], ["probs"]))
        inits = [starts, ends, axes, shape]
    nodes.append(helper.make_node("Identity", ["hidden"], ["hidden_out"]))
    graph = helper.make_graph(
        nodes, "handmade", [state, signals, hidden_in], [probs, hidden_out], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    payload: bytes = model.SerializeToString()
    return payload


def deploy_bytes(admin: Any, archetype: str, version: str, payload: bytes) -> int:
    """A model row written as an operator could (no exporter to check it), deployed."""
    row = admin.execute(
        "INSERT INTO ml.ml_models (archetype, model_type, model_name, version, network_type, "
        "onnx_fp32, is_deployed) VALUES (%s, 'pack_coordination', 'handmade', %s, 'handmade', "
        "%s, true) RETURNING id",
        (archetype, version, payload),
    ).fetchone()
    return int(row[0])


def test_a_model_that_outputs_nan_or_fails_answers_255_with_the_reason(
    inline: Any, game: Any
) -> None:
    sync_pack(game, PACK, "tank")
    deploy_bytes(inline, "tank", "nan", constant_model("nan"))
    rows = decide(game, PACK, "tank", states_for(1, 3))
    assert {r["action"] for r in rows} == {255}
    assert all("not finite" in r["reason"] for r in rows)
    deploy_bytes(inline, "tank", "broken", constant_model("broken"))
    rows = decide(game, PACK, "tank", states_for(1, 3))
    assert {r["action"] for r in rows} == {255}
    assert all(r["reason"].startswith("inference failed for archetype 'tank'") for r in rows)


def test_a_model_that_cannot_load_is_refused_and_the_one_before_keeps_serving(
    db_url: str, inline: Any, game: Any
) -> None:
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    assert {r["model_version"] for r in decide(game, PACK, "tank", states_for(1, 3))} == {"t1"}
    deploy_bytes(inline, "tank", "garbage", b"not an onnx file")
    rows = decide(game, PACK, "tank", states_for(2, 3))
    assert {(r["model_version"], r["reason"]) for r in rows} == {("t1", None)}


def test_a_client_holding_its_transaction_open_stalls_nobody(
    db_url: str, inline: Any, game: Any, game_url: str
) -> None:
    """A game-server session decides a pack and keeps its transaction open (its memory writes,
    and their claims, uncommitted): another session deciding the same monsters is answered at
    once (those monsters' memory skips that step) instead of waiting for the first."""
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    with psycopg.connect(game_url) as holder, psycopg.connect(game_url) as other:
        decide(holder, PACK, "tank", states_for(1, 3))  # BEGIN ... and nothing more
        other.execute("SET statement_timeout = '10s'")
        rows = decide(other, PACK, "tank", states_for(2, 3))
        assert len(rows) == 3
        other.commit()
        holder.commit()
    model_id = inline.execute("SELECT id FROM ml.ml_models WHERE version = 't1'").fetchone()[0]
    assert memory_of(inline, model_id, PACK[0]) is not None


def test_a_client_holding_its_transaction_open_stalls_no_worker(
    db_url: str, inline: Any, game: Any, game_url: str, worker_url: str, listener: Any
) -> None:
    """The same open transaction against the worker: a queued request for those monsters is
    answered (its memory write for them skipped) while the client still holds its transaction."""
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    with psycopg.connect(game_url) as holder, worker_process(worker_url):
        decide(holder, PACK, "tank", states_for(1, 3))  # BEGIN ... and nothing more
        job = request_pack(game, PACK, "tank")
        answered = collect_decisions(listener, {job})
        assert [note["status"] for note in answered[job]] == ["done"]
        holder.commit()


def test_old_memory_is_purged(db_url: str, inline: Any, game: Any) -> None:
    deploy_actor(db_url, "tank", "t1")
    sync_pack(game, PACK, "tank")
    decide(game, PACK, "tank", states_for(1, 3))
    inline.execute(
        "UPDATE ml.monster_memory SET updated_at = now() - interval '1 hour' "
        "WHERE monster_id = 2001"
    )
    assert inline.execute("SELECT ml.purge_monster_memory()").fetchone() == (1,)
    left = inline.execute("SELECT array_agg(monster_id ORDER BY monster_id) FROM ml.monster_memory")
    assert left.fetchone() == ([2002, 2003],)


def test_requests_answered_inside_their_insert_are_purged_after_the_retention(
    db_url: str, inline: Any, game: Any
) -> None:
    """No job leads the queue's purge to them: ml.purge_inline_answers deletes an inline-answered
    request and its answer once past queues.retention_seconds, and leaves a queued request (its
    job still pending) and a recent answer alone."""
    deploy_actor(db_url, "aggressive", "c1", combat_export(), model_type="combat")
    old = gateway_insert(game, 1002, [0.1] * 64)
    recent = gateway_insert(game, 1002, [0.2] * 64)
    set_mode(inline, "worker")
    queued = gateway_insert(game, 1002, [0.3] * 64)
    inline.execute(
        "UPDATE ml.ai_requests SET created_at = now() - interval '1 hour' "
        "WHERE request_id = ANY(%s)",
        ([old, queued],),
    )
    assert inline.execute("SELECT ml.purge_inline_answers()").fetchone() == (1,)
    left = inline.execute("SELECT array_agg(request_id ORDER BY request_id) FROM ml.ai_requests")
    assert left.fetchone() == ([recent, queued],)
    assert gateway_answer(inline, old) is None
    assert gateway_answer(inline, recent) is not None
