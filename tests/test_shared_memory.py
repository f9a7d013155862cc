"""One recurrent memory: a monster's GRU state is kept in ml.monster_memory (keyed by the serving
model's id), read with the worker's claim and written with its answer, so that its next tick
continues from it whichever worker, or inline decision, answers that tick.

The round's own handling is tested on a real exported actor without the database (decide_round);
the rest against the real server, with real worker processes and the real claim and answer
statements. The CPU-only worker serves each model's INT8 file; the tests run that same registered
file in onnxruntime with the recurrent state chained by hand, and compare."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import numpy as np
import onnxruntime as ort
import pytest

from models.export.onnx import session
from tests.ctde_helpers import SMALL_HIDDEN, small_export
from tests.test_decide_round import decisions_of, job, pool_serving
from tests.worker_helpers import (
    collect_decisions,
    deploy_actor,
    gateway_insert,
    served,
    sync_pack,
    worker_process,
)
from worker.decide import decide_round
from worker.store import Answer, AsyncpgJobStore, ClaimedJob, Decisions, Memory

PACK = [1001, 1002, 1003, 1004, 1005]
CPU_ONLY = {"RAGNAROK_WORKER_CPU_ONLY": "1"}
TYPED_REQUEST = "SELECT ml.request_pack_actions(%s::int[], %s::text[], %s::real[])"
INLINE_DECISION = "SELECT action, confidence FROM ml.decide_pack(%s::int[], %s::text[], %s::real[])"
T = TypeVar("T")


# --- the round, without the database -------------------------------------------------------------


def as_bytes(hidden: np.ndarray) -> list[bytes]:
    return [row.astype("<f4").tobytes() for row in hidden]


def with_signal(n: int) -> np.ndarray:
    """The signals of tests.test_decide_round.job: the first monster hears 0.9 in dimension 3."""
    signals = np.zeros((n, 32), dtype=np.float32)
    signals[0, 3] = 0.9
    return signals


def kept_states(memory: Memory | None) -> np.ndarray:
    assert memory is not None
    return np.stack([np.frombuffer(h, dtype="<f4") for h in memory.hidden])


def test_a_round_starts_each_monster_from_its_memory_and_keeps_the_new_one() -> None:
    """Two pack jobs of one round (one ONNX call): monsters with memory start from it, those
    without (or with memory of another width) from zeros; each job's answer carries its monsters'
    new states under the model's id. A gateway job reads none (even if some were handed to it)
    and keeps none."""
    rng = np.random.default_rng(5)
    remembered = rng.uniform(-1, 1, (2, SMALL_HIDDEN)).astype(np.float32)
    first = dataclasses.replace(
        job(1, [11, 12, 13], ["tank"] * 3, seed=1),
        memory_rows=[1, 3],
        memory=as_bytes(remembered),
    )
    wrong_width = np.ones((1, SMALL_HIDDEN + 1), dtype=np.float32)
    second = dataclasses.replace(
        job(2, [21, 22], ["tank"] * 2, seed=2), memory_rows=[2], memory=as_bytes(wrong_width)
    )
    gateway = dataclasses.replace(
        job(3, [11], ["tank"], seed=3),
        kind="gateway",
        gateway_request_id=7,
        signal_rows=[],
        signal_dims=[],
        signal_weights=[],
        memory_rows=[1],
        memory=as_bytes(remembered[:1]),
    )
    answers = decide_round([first, second, gateway], pool_serving("tank"), 0.7)

    actor = session(small_export().onnx_fp32)
    hidden_in = {
        1: np.stack([remembered[0], np.zeros(SMALL_HIDDEN, np.float32), remembered[1]]),
        2: np.zeros((2, SMALL_HIDDEN), np.float32),
    }
    for claimed, answer in zip((first, second), answers, strict=False):
        states = np.asarray(claimed.states, dtype=np.float32)
        feeds = {"state": states, "signals": with_signal(len(states))}
        probs, hidden_out = actor.run(None, {**feeds, "hidden": hidden_in[claimed.id]})
        decisions = decisions_of(answer)
        assert decisions.actions == probs.argmax(axis=1).tolist()
        assert decisions.confidences == pytest.approx(probs.max(axis=1).tolist(), rel=1e-5)
        assert decisions.memory is not None
        assert decisions.memory.model_ids == [1] * len(states)  # pool_serving's model id
        assert decisions.memory.monster_ids == claimed.monster_ids
        np.testing.assert_allclose(kept_states(decisions.memory), hidden_out, rtol=1e-5, atol=1e-6)

    states = np.asarray(gateway.states, dtype=np.float32)
    zeros = np.zeros((1, SMALL_HIDDEN), np.float32)
    probs, _ = actor.run(
        None, {"state": states, "signals": np.zeros((1, 32), np.float32), "hidden": zeros}
    )
    decisions = decisions_of(answers[2])
    assert decisions.actions == probs.argmax(axis=1).tolist()
    assert decisions.memory is None


def test_a_state_that_is_not_finite_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A diverged model's new state (NaN) would poison every later tick of that monster: it is
    not written, and the monster keeps the memory it had."""
    pool = pool_serving("tank")
    actor = pool.actors["tank"]
    real_run = actor.run

    def run_with_a_nan(
        states: np.ndarray, signals: np.ndarray, hidden: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        probs, new_hidden = real_run(states, signals, hidden)
        assert new_hidden is not None
        new_hidden[0, 5] = np.nan
        return probs, new_hidden

    monkeypatch.setattr(actor, "run", run_with_a_nan)
    [answer] = decide_round([job(1, [11, 12], ["tank"] * 2, seed=1)], pool, 0.7)
    memory = decisions_of(answer).memory
    assert memory is not None
    assert memory.monster_ids == [12]
    assert np.isfinite(kept_states(memory)).all()


# --- the real server and workers -----------------------------------------------------------------


def tick_states(tick: int) -> np.ndarray:
    return np.random.default_rng(100 + tick).uniform(-1, 1, (len(PACK), 64)).astype(np.float32)


def run_pack(
    actor: ort.InferenceSession, states: np.ndarray, hidden: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pack's probabilities and new states, its signals none (no signal is sent here)."""
    probs, hidden_out = actor.run(
        None,
        {"state": states, "signals": np.zeros((len(states), 32), np.float32), "hidden": hidden},
    )
    return probs, hidden_out


def worker_tick(game: Any, listener: Any, states: np.ndarray) -> tuple[int, list[dict[str, Any]]]:
    """One tick of the pack through the queue: the job id and its answer's actions."""
    job_id = int(
        game.execute(TYPED_REQUEST, (PACK, ["aggressive"] * 5, states.tolist())).fetchone()[0]
    )
    [note] = collect_decisions(listener, {job_id})[job_id]
    assert note["status"] == "done", note
    return job_id, note["actions"]


def memory_of(admin: Any, model_id: int) -> np.ndarray:
    """The pack's rows in ml.monster_memory under `model_id`, in PACK's order, as (5, width)."""
    rows = dict(
        admin.execute(
            "SELECT monster_id, hidden FROM ml.monster_memory "
            "WHERE model_id = %s AND monster_id = ANY(%s)",
            (model_id, PACK),
        ).fetchall()
    )
    assert sorted(rows) == PACK
    return np.stack([np.frombuffer(bytes(rows[m]), dtype="<f4") for m in PACK])


def assert_answered_by(actions: list[dict[str, Any]], probs: np.ndarray) -> None:
    assert [a["monster_id"] for a in actions] == PACK
    assert [a["action"] for a in actions] == probs.argmax(axis=1).tolist()
    assert [a["confidence"] for a in actions] == pytest.approx(probs.max(axis=1).tolist(), rel=1e-5)


def test_the_next_tick_on_another_worker_continues_from_the_memory_the_first_left(
    db_url: str, worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """Tick 1 answered by worker w1, which then stops; tick 2 by a new process, w2: its answer is
    the deployed file's on tick 2's states from the recurrent states tick 1 left (not from zeros),
    and after each tick ml.monster_memory holds each monster's new state, hidden_dim float32 wide,
    under the model's id."""
    model = deploy_actor(db_url, "aggressive", "1.0")
    actor = served(admin, model)
    sync_pack(game, PACK, "aggressive")
    with worker_process(worker_url, worker_id="w1", extra_env=CPU_ONLY):
        first_job, first = worker_tick(game, listener, tick_states(1))
    probs_1, hidden_1 = run_pack(actor, tick_states(1), np.zeros((5, SMALL_HIDDEN), np.float32))
    assert_answered_by(first, probs_1)
    kept = memory_of(admin, model)
    assert kept.shape == (5, SMALL_HIDDEN)
    np.testing.assert_allclose(kept, hidden_1, rtol=1e-5, atol=1e-6)

    with worker_process(worker_url, worker_id="w2", extra_env=CPU_ONLY):
        second_job, second = worker_tick(game, listener, tick_states(2))
    probs_2, hidden_2 = run_pack(actor, tick_states(2), hidden_1)
    assert_answered_by(second, probs_2)
    np.testing.assert_allclose(memory_of(admin, model), hidden_2, rtol=1e-5, atol=1e-6)
    fresh, _ = run_pack(actor, tick_states(2), np.zeros((5, SMALL_HIDDEN), np.float32))
    assert probs_2.max(axis=1) != pytest.approx(fresh.max(axis=1), rel=1e-5)  # memory mattered
    workers = admin.execute(
        "SELECT worker_id FROM ml.inference_jobs WHERE id = ANY(%s) ORDER BY id",
        ([first_job, second_job],),
    ).fetchall()
    assert workers == [("w1",), ("w2",)]


def test_inline_decisions_and_the_worker_continue_each_others_memory(
    db_url: str, worker_url: str, game: Any, admin: Any, listener: Any
) -> None:
    """Tick 1 decided inline (ml.decide_pack, in the caller's statement), tick 2 by the worker,
    tick 3 inline again: each continues from the recurrent states the one before left."""
    admin.execute("UPDATE ml.config SET value = '\"inline\"' WHERE key = 'serving.mode'")
    model = deploy_actor(db_url, "aggressive", "1.0")
    actor = served(admin, model)
    sync_pack(game, PACK, "aggressive")
    hidden = np.zeros((5, SMALL_HIDDEN), np.float32)

    def inline_tick(tick: int) -> list[tuple[int, float]]:
        cur = game.execute(INLINE_DECISION, (PACK, ["aggressive"] * 5, tick_states(tick).tolist()))
        return [(int(a), float(c)) for a, c in cur.fetchall()]

    first = inline_tick(1)
    probs, hidden = run_pack(actor, tick_states(1), hidden)
    assert [a for a, _ in first] == probs.argmax(axis=1).tolist()
    with worker_process(worker_url, extra_env=CPU_ONLY):
        _, second = worker_tick(game, listener, tick_states(2))
    probs, hidden = run_pack(actor, tick_states(2), hidden)
    assert_answered_by(second, probs)
    third = inline_tick(3)
    probs, hidden = run_pack(actor, tick_states(3), hidden)
    assert [a for a, _ in third] == probs.argmax(axis=1).tolist()
    assert [c for _, c in third] == pytest.approx(probs.max(axis=1).tolist(), rel=1e-4)
    np.testing.assert_allclose(memory_of(admin, model), hidden, rtol=1e-4, atol=1e-5)


# --- the claim and answer statements, driven by hand ---------------------------------------------


def with_store(url: str, scenario: Callable[[AsyncpgJobStore], Awaitable[T]]) -> T:
    """`scenario` on the worker's store over its own connection (as ml_worker)."""

    async def run() -> T:
        conn = await asyncpg.connect(url)
        try:
            return await scenario(AsyncpgJobStore(conn))
        finally:
            await conn.close()

    return asyncio.run(run())


def answer_keeping(job_id: int, model_id: int, value: float) -> Answer:
    """A pack answer for PACK that keeps every monster's state as `value`s."""
    state = np.full(SMALL_HIDDEN, value, dtype="<f4").tobytes()
    decisions = Decisions(
        actions=[0] * 5,
        confidences=[0.5] * 5,
        coordinated=[False] * 5,
        reasons=None,
        coordination_score=0.0,
        model_version="1.0",
        inference_ms=1.0,
        memory=Memory([model_id] * 5, PACK, [state] * 5),
    )
    return Answer(job_id, "done", decisions, None)


def memory_rows(admin: Any) -> int:
    return int(admin.execute("SELECT count(*) FROM ml.monster_memory").fetchone()[0])


def test_a_worker_that_lost_its_lease_writes_no_memory(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """w1 claims a tick, loses it (given back, as the rescue of a silent worker does) and w2
    claims it again. w1's late answer finishes nothing and writes no memory; w2's writes its
    states, and the next claim hands them out with the pack's next tick."""
    model = deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    request = (PACK, ["aggressive"] * 5, tick_states(1).tolist())
    job_id = int(game.execute(TYPED_REQUEST, request).fetchone()[0])
    serving = {"aggressive": model}

    async def scenario(store: AsyncpgJobStore) -> tuple[int, int, int, ClaimedJob]:
        [claimed] = await store.claim("w1", 10, serving)
        assert (claimed.id, tuple(claimed.memory_rows)) == (job_id, ())
        assert await store.give_back("w1", [job_id], "lease lost") == (1, 0)
        assert [j.id for j in await store.claim("w2", 10, serving)] == [job_id]
        late = await store.complete("w1", [answer_keeping(job_id, model, 1.0)])
        kept_after_late = memory_rows(admin)
        owner = await store.complete("w2", [answer_keeping(job_id, model, 2.0)])
        game.execute(TYPED_REQUEST, request)
        [next_tick] = await store.claim("w3", 10, serving)
        return late, kept_after_late, owner, next_tick

    late, kept_after_late, owner, next_tick = with_store(worker_url, scenario)
    assert (late, kept_after_late, owner) == (0, 0, 1)
    np.testing.assert_array_equal(memory_of(admin, model), np.full((5, SMALL_HIDDEN), 2.0))
    assert list(next_tick.memory_rows) == [1, 2, 3, 4, 5]
    assert [np.frombuffer(m, dtype="<f4")[0] for m in next_tick.memory] == [2.0] * 5


def test_the_claim_reads_memory_only_for_pack_jobs_under_the_model_served(
    db_url: str, worker_url: str, game: Any, admin: Any
) -> None:
    """With memory kept for two of PACK's monsters under model M: a pack job claimed by a worker
    serving M for their archetype gets it (1-based positions within the job); one claimed by a
    worker serving another model, or none, for that archetype gets none; a gateway request naming
    one of those monster ids (a mob type id) gets none either."""
    model = deploy_actor(db_url, "aggressive", "1.0")
    sync_pack(game, PACK, "aggressive")
    admin.execute(
        "INSERT INTO ml.monster_memory (model_id, monster_id, hidden) "
        "SELECT %s, m, %s FROM unnest(%s::int[]) AS m",
        (model, np.full(SMALL_HIDDEN, 3.0, dtype="<f4").tobytes(), PACK[1:3]),
    )
    # PACK[0] has no memory, PACK[2] has: position 2 of the job.
    request = ([PACK[0], PACK[2]], ["aggressive"] * 2, tick_states(1)[:2].tolist())
    claims = [
        ("w1", {"aggressive": model}),
        ("w2", {"aggressive": model + 1000}),
        ("w3", {"tank": model}),
    ]

    async def scenario(store: AsyncpgJobStore) -> list[ClaimedJob]:
        claimed = []
        for worker, serving in claims:
            game.execute(TYPED_REQUEST, request)
            claimed += await store.claim(worker, 10, serving)
        gateway_insert(game, PACK[1], [0.1] * 64)
        return claimed + await store.claim("w4", 10, {"aggressive": model})

    served_model, other_model, other_archetype, gateway = with_store(worker_url, scenario)
    assert list(served_model.memory_rows) == [2]
    assert [np.frombuffer(m, dtype="<f4")[0] for m in served_model.memory] == [3.0]
    assert gateway.kind == "gateway"
    for claimed in (other_model, other_archetype, gateway):
        assert (tuple(claimed.memory_rows), tuple(claimed.memory)) == ((), ())
