"""One round of claimed jobs answered by the worker core (decide_round), on a real exported actor:
each job's answer equals that job run alone through the same ONNX file, whatever the other jobs
of the round; a bad job or an archetype without a model changes nothing for the others."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from config.model_types import TRADITIONAL_AI
from tests.ctde_helpers import SMALL_HIDDEN, small_export
from worker.decide import decide_round
from worker.sessions import ActorPool, open_session
from worker.store import Answer, ClaimedJob, Decisions, DeployedModel


def pool_serving(*archetypes: str) -> ActorPool:
    exported = small_export()
    pool = ActorPool(["CPUExecutionProvider"], 1)
    for k, archetype in enumerate(archetypes):
        model = DeployedModel(
            k + 1, archetype, "pack_coordination", f"v{k}", None,
            exported.onnx_fp32, None, None, 64, 32, 7, SMALL_HIDDEN,
        )  # fmt: skip
        pool.actors[archetype] = open_session(model, pool.providers, 1)
    return pool


def job(job_id: int, ids: list[int], archetypes: list[str], seed: int, **bad: Any) -> ClaimedJob:
    rng = np.random.default_rng(seed)
    states = rng.uniform(-1, 1, (len(ids), 64)).astype(np.float32).tolist()
    return ClaimedJob(
        id=job_id,
        kind="pack",
        monster_ids=ids,
        archetypes=archetypes,
        states=bad.get("states", states),
        signal_rows=bad.get("signal_rows", [1]),  # the first monster hears one signal
        signal_dims=bad.get("signal_dims", [3]),
        signal_weights=[0.9],
        pack_leader_ids=[ids[0]] * len(ids),
        attempts=1,
        max_attempts=3,
    )


def decisions_of(answer: Answer) -> Decisions:
    assert answer.decisions is not None, answer.error
    return answer.decisions


def actions_of(answer: Answer) -> list[tuple[int, float]]:
    decisions = decisions_of(answer)
    return list(zip(decisions.actions, decisions.confidences, strict=True))


def test_each_answer_equals_its_job_answered_alone() -> None:
    jobs = [
        job(1, [11, 12, 13], ["tank", "mage", "tank"], seed=1),
        job(2, [21, 22], ["mage", "mage"], seed=2),
        job(3, [31, 32, 33, 34], ["tank"] * 4, seed=3),
    ]
    together = decide_round(jobs, pool_serving("tank", "mage"), 0.7)
    alone = [decide_round([j], pool_serving("tank", "mage"), 0.7)[0] for j in jobs]
    assert [a.job_id for a in together] == [1, 2, 3]
    for mixed, single in zip(together, alone, strict=True):
        assert mixed.status == single.status == "done"
        assert actions_of(mixed) == actions_of(single)
        assert decisions_of(mixed).coordination_score == decisions_of(single).coordination_score


def test_a_bad_job_fails_alone_and_a_missing_model_gets_the_traditional_ai() -> None:
    jobs = [
        job(1, [11, 12], ["tank", "ranged"], seed=1),
        job(2, [21], ["tank"], seed=2, states=[[float("nan")] * 64]),
        job(3, [31], ["tank"], seed=3, states=[[0.5] * 63]),
        job(4, [41], ["dragon"], seed=4),
        job(5, [51], ["tank"], seed=5, signal_dims=[32]),
        job(6, [61], ["tank"], seed=6, signal_rows=[2]),
    ]
    answers = decide_round(jobs, pool_serving("tank"), 0.7)
    ok, nan, short, dragon, wide, beyond = answers
    assert ok.status == "done"
    tank, ranged = decisions_of(ok).actions
    assert 0 <= tank < 7
    assert ranged == TRADITIONAL_AI
    assert decisions_of(ok).reasons == [
        None,
        "no deployed pack_coordination model for archetype 'ranged'",
    ]
    assert (nan.status, nan.error) == (
        "failed",
        "state vector of monster 21 contains NaN or infinity",
    )
    assert (short.status, short.error) == ("failed", "state vector must have 64 floats, got 63")
    assert (dragon.status, dragon.error) == ("failed", "unknown archetype 'dragon'")
    outside = "signal entries outside 1 monsters x 32 dimensions"
    assert (wide.status, wide.error) == (beyond.status, beyond.error) == ("failed", outside)


def test_packed_states_answer_as_their_array_and_fail_alone_when_malformed() -> None:
    """States packed by the game server (float32 little-endian bytes, as claimed from
    ml.request_pack_actions_packed) are the same request as the array form; bytes that are not
    64 floats per monster, or a NaN in them, fail that job alone with the monster named."""
    array_job = job(1, [11, 12, 13], ["tank"] * 3, seed=1)
    packed = np.asarray(array_job.states, dtype="<f4").tobytes()
    nan_state = np.full((2, 64), 0.5, dtype="<f4")
    nan_state[1, 7] = np.nan
    jobs = [
        job(1, [11, 12, 13], ["tank"] * 3, seed=1, states=packed),
        job(2, [21], ["tank"], seed=2, states=packed[:252]),  # 63 floats
        job(3, [31], ["tank"], seed=3, states=packed[:257]),  # not whole floats
        job(4, [41, 42], ["tank"] * 2, seed=4, states=nan_state.tobytes()),
    ]
    ok, short, ragged, nan = decide_round(jobs, pool_serving("tank"), 0.7)
    [alone] = decide_round([array_job], pool_serving("tank"), 0.7)
    assert actions_of(ok) == actions_of(alone)
    assert (short.status, short.error) == ("failed", "state vector must have 64 floats, got 63")
    assert (ragged.status, ragged.error) == (
        "failed",
        "packed states: 257 bytes are not a whole number of float32 values",
    )
    assert (nan.status, nan.error) == (
        "failed",
        "state vector of monster 42 contains NaN or infinity",
    )


@pytest.mark.parametrize("threshold", [0.0, 1.01])
def test_the_bonus_goes_to_pack_members_only_at_the_threshold(threshold: float) -> None:
    [answer] = decide_round(
        [job(1, [11, 12], ["tank"] * 2, seed=5)], pool_serving("tank"), threshold
    )
    decisions = decisions_of(answer)
    assert decisions.coordinated == [threshold <= decisions.coordination_score] * 2


def test_a_model_output_that_is_not_finite_gets_the_traditional_ai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A diverged or corrupted model (NaN out of the real ONNX session, injected here for one
    monster) leaves that monster to the traditional AI with the reason; the others are answered."""
    pool = pool_serving("tank")
    actor = pool.actors["tank"]
    real_run = actor.run

    def run_with_a_nan(
        states: np.ndarray, signals: np.ndarray, hidden: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        probs, new_hidden = real_run(states, signals, hidden)
        probs[0, :] = np.nan
        return probs, new_hidden

    monkeypatch.setattr(actor, "run", run_with_a_nan)
    [answer] = decide_round([job(1, [11, 12], ["tank", "tank"], seed=1)], pool, 0.7)
    decisions = decisions_of(answer)
    assert decisions.actions[0] == TRADITIONAL_AI
    assert 0 <= decisions.actions[1] < 7
    assert decisions.reasons == ["the 'tank' model's output is not finite (NaN or infinity)", None]
