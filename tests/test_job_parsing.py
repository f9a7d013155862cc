"""What each malformed job gets: every claimed job is parsed alone before it joins the round's batch
(worker.decide.parse_claimed), and a bad one fails with a message naming what is wrong, never an
exception, and never reaches the batched ONNX call. The rows are what the claim hands the worker
(asyncpg decodes a multi-dimensional array as nested lists, a null element as None)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import worker.decide as decide
from plpython import coordination, decisions
from tests.test_decide_round import job, pool_serving
from worker.decide import (
    MAX_ERROR,
    BadJob,
    ParsedJob,
    decide_each,
    decide_round,
    error_text,
    parse_claimed,
)
from worker.store import ClaimedJob

NAN_STATE = [[0.5] * 64, [0.5] * 7 + [float("nan")] + [0.5] * 56]


def two(**changes: Any) -> ClaimedJob:
    """A well-formed job of monsters 11 and 12 (tanks), but for `changes`."""
    return replace(job(7, [11, 12], ["tank", "tank"], seed=7), **changes)


BAD = [
    ("monster ids 2-D", two(monster_ids=[[11, 12], [13, 14]]),
     "monster_ids must be one-dimensional, got a multi-dimensional array"),
    ("null monster id", two(monster_ids=[11, None]),
     "monster_ids must be without nulls, got a null at position 2"),
    ("monster ids not an array", two(monster_ids=5), "monster_ids must be an array, got 5"),
    ("no monsters", two(monster_ids=[], archetypes=[], states=[], pack_leader_ids=[]),
     "job has no monsters"),
    ("unknown kind", two(kind="raid"), "unknown job kind 'raid'"),
    ("gateway job without its request", two(kind="gateway", monster_ids=[11], archetypes=["tank"]),
     "gateway job has no gateway request to answer"),
    ("gateway job of two monsters", two(kind="gateway", gateway_request_id=5),
     "gateway job must have one monster, got 2"),
    ("archetypes 2-D", two(archetypes=[["tank"], ["tank"]]),
     "archetypes must be one-dimensional, got a multi-dimensional array"),
    ("archetypes of the wrong count", two(archetypes=["tank"]),
     "job has 2 monsters but 1 archetypes"),
    ("null archetype", two(archetypes=["tank", None]), "unknown archetype None"),
    ("unknown archetype", two(archetypes=["dragon", "tank"]), "unknown archetype 'dragon'"),
    ("long unknown archetype", two(archetypes=["tank", "x" * 1000]),
     "unknown archetype 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."),
    ("pack leaders of the wrong count", two(pack_leader_ids=[11]),
     "job has 2 monsters but 1 pack leaders"),
    ("pack leaders 2-D", two(pack_leader_ids=[[11, 11], [12, 12]]),
     "pack_leader_ids must be one-dimensional, got a multi-dimensional array"),
    ("states of the wrong width", two(states=[[0.5] * 63] * 2),
     "state vector must have 64 floats, got 63"),
    ("states of the wrong count", two(states=[[0.5] * 64] * 3),
     "states must be 2 x 64 floats, got 3 x 64"),
    ("states 3-D", two(states=[[[0.5] * 32] * 2] * 2),
     "states must be 2 x 64 floats, got 2 x 2 x 32"),
    ("states flat", two(states=[0.5] * 128), "states must be 2 x 64 floats, got 128"),
    ("state with NaN", two(states=NAN_STATE),
     "state vector of monster 12 contains NaN or infinity"),
    ("state with a null", two(states=[[0.5] * 64, [None] * 64]),
     "state vector of monster 12 contains NaN or infinity"),
    ("packed states not whole floats", two(states=b"\x00\x01\x02"),
     "packed states: 3 bytes are not a whole number of float32 values"),
    ("packed states of the wrong size", two(states=b"\x00" * 256),
     "state vector must have 64 floats, got 32"),
    ("packed states of an odd size", two(states=b"\x00" * 260),
     "states must be 2 x 64 floats, got 65"),
    ("signal row outside the monsters", two(signal_rows=[3]),
     "signal entries outside 2 monsters x 32 dimensions"),
    ("signal row 0", two(signal_rows=[0]), "signal entries outside 2 monsters x 32 dimensions"),
    ("signal dimension outside 0-31", two(signal_dims=[32]),
     "signal entries outside 2 monsters x 32 dimensions"),
    ("signal arrays of different lengths", two(signal_dims=[3, 4]),
     "signal entries must be three arrays of one length, got (1,), (2,), (1,)"),
    ("signal rows 2-D", two(signal_rows=[[1], [1]]),
     "signal_rows must be one-dimensional, got a multi-dimensional array"),
    ("null signal dimension", two(signal_dims=[None]),
     "signal_dims must be without nulls, got a null at position 1"),
    ("signal weights 2-D", two(signal_weights=np.ones((1, 1), dtype=np.float32)),
     "signal_weights must be one-dimensional, got a multi-dimensional array"),
    ("signal weight NaN", two(signal_weights=[float("nan")]),
     "signal vector contains NaN or infinity"),
    ("null signal weight", two(signal_weights=[None]), "signal vector contains NaN or infinity"),
    ("row the claim could not read", two(defect="unreadable float array: unpack requires 12 bytes"),
     "unreadable float array: unpack requires 12 bytes"),
    # Nothing a check foresaw (an integer[] cannot hold it): still this job's error, not a raise.
    ("signal row beyond int64", two(signal_rows=[2**70]),
     "malformed job (OverflowError): Python int too large to convert to C long"),
]  # fmt: skip


@pytest.mark.parametrize(("claimed", "error"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_malformed_job_gets_its_message(claimed: ClaimedJob, error: str) -> None:
    parsed = parse_claimed(claimed)
    assert parsed == BadJob(claimed, error)


def test_a_well_formed_job_parses() -> None:
    parsed = parse_claimed(two())
    assert isinstance(parsed, ParsedJob)
    assert parsed.states.shape == (2, 64)
    assert parsed.signals[0, 3] == pytest.approx(0.9)
    gateway = parse_claimed(
        two(kind="gateway", gateway_request_id=5, monster_ids=[11], archetypes=["tank"],
            states=[[0.5] * 64], pack_leader_ids=[None])
    )  # fmt: skip
    assert isinstance(gateway, ParsedJob)


def test_error_text_is_bounded_and_storable() -> None:
    assert error_text("a\x00b") == "a\\x00b"  # text cannot hold NUL
    long = error_text("x" * 10_000)
    assert len(long) == MAX_ERROR
    assert long.endswith("...")


def test_every_pill_in_one_round_fails_alone_and_never_reaches_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole list in one round beside two well-formed jobs: each pill gets its message, the
    ONNX call sees only the well-formed jobs' monsters, and their answers are as if alone."""
    pool = pool_serving("tank")
    actor = pool.actors["tank"]
    real_run = actor.run
    seen: list[np.ndarray] = []

    def recording_run(
        states: np.ndarray, signals: np.ndarray, hidden: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        seen.append(states.copy())
        return real_run(states, signals, hidden)

    monkeypatch.setattr(actor, "run", recording_run)
    good = [job(1, [101, 102], ["tank"] * 2, seed=1), job(2, [201], ["tank"], seed=2)]
    bad = [replace(b[1], id=1000 + k) for k, b in enumerate(BAD)]
    answers = decide_round([good[0], *bad, good[1]], pool, 0.7)
    # One call, with the states of monsters 101, 102 and 201 only.
    [states] = seen
    np.testing.assert_array_equal(
        states, np.concatenate([np.asarray(g.states, dtype=np.float32) for g in good])
    )
    by_id = {a.job_id: a for a in answers}
    assert [(by_id[b.id].status, by_id[b.id].error) for b in bad] == [
        ("failed", error) for _, _, error in BAD
    ]
    for g in good:
        [single] = decide_round([g], pool_serving("tank"), 0.7)
        mixed = by_id[g.id].decisions
        assert mixed is not None
        assert single.decisions is not None
        assert mixed.actions == single.decisions.actions


def test_an_answer_that_cannot_be_made_fails_its_job_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Scoring a job's coordination raises (as it would for inputs no check foresaw): that job
    fails with the reason, its round-mates are answered."""
    real_score = coordination.coordination_score

    def score(**kwargs: Any) -> coordination.CoordinationScore:
        if 31 in kwargs["monster_ids"]:
            raise coordination.CoordinationInputError("something no check foresaw")
        return real_score(**kwargs)

    monkeypatch.setattr(decisions, "coordination_score", score)  # as the answer looks it up
    jobs = [job(1, [11], ["tank"], seed=1), job(3, [31], ["tank"], seed=3)]
    ok, broken = decide_round(jobs, pool_serving("tank"), 0.7)
    assert ok.status == "done"
    assert (broken.status, broken.error) == (
        "failed",
        "its answer could not be made (CoordinationInputError): something no check foresaw",
    )


def test_a_round_that_raises_is_decided_job_by_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """If deciding the round at once raises anyway, each job is decided alone: only the job that
    still raises fails, with the error."""
    real_parse = decide.parse_claimed

    def parse(claimed: ClaimedJob) -> ParsedJob | BadJob:
        if claimed.id == 2:
            raise RuntimeError("a bug in the worker")
        return real_parse(claimed)

    monkeypatch.setattr(decide, "parse_claimed", parse)
    jobs = [job(k, [10 * k], ["tank"], seed=k) for k in (1, 2, 3)]
    with pytest.raises(RuntimeError):
        decide_round(jobs, pool_serving("tank"), 0.7)
    answers = decide_each(jobs, pool_serving("tank"), 0.7)
    assert [(a.job_id, a.status) for a in answers] == [(1, "done"), (2, "failed"), (3, "done")]
    assert answers[1].error == "the worker could not decide it (RuntimeError): a bug in the worker"
