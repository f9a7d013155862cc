"""Answer a round of claimed decision jobs: validate each job, batch every monster of an archetype
across jobs into one ONNX call per model, score pack coordination, and build one answer per job.

Each claimed job is parsed on its own before it joins the batch (parse_claimed: a ParsedJob, or a
BadJob with its message): one malformed row (wrong dims, nulls, NaN, unknown archetype, garbage
packed bytes) fails alone with its message and never reaches the batched ONNX call; the rest of the
round is answered. A monster whose archetype has no deployed actor gets action 255 (use the
traditional AI) with the reason, never an exception.

Who answers what, per archetype:
- pack jobs: the pack_coordination actor, each monster from the GRU state its last tick left in
  ml.monster_memory (read with the claim, whichever worker or inline decision answered that tick;
  zeros for a monster without one), its new state kept with the job's answer and written by the
  answer statement;
- legacy gateway jobs: the combat model when one is deployed (its action, drawn from its policy
  by the request's state, is the legacy action id 0-9 itself, DEFER answered 255; signals fed as
  zeros, a gateway request carries none); otherwise the pack actor, whose argmax the answer
  statement maps through ml.legacy_action_map. Either way from a zero GRU state that is neither
  read from nor written to ml.monster_memory: a gateway request's monster_id is the mob's type id,
  shared by every monster of that type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from plpython.decisions import (
    DecisionInputError,
    choose,
    dense_signals,
    gather_memory,
    memory_states,
    score_decisions,
)
from plpython.model_types import TRADITIONAL_AI
from plpython.pgarrays import ArrayFormatError, packed_float32
from plpython.signal_encoding import SIGNAL_DIM
from plpython.state_contract import ARCHETYPES as CONTRACT_ARCHETYPES
from plpython.state_contract import STATE_DIM
from worker.sessions import PACK_MODEL, ActorPool, ActorSession
from worker.store import Answer, ClaimedJob, Decisions, Memory

ARCHETYPES = frozenset(CONTRACT_ARCHETYPES)

#: A job whose content cannot be answered; the message is stored as its error.
BadJobError = DecisionInputError


#: The longest error message stored for a job (a row's text, a notification's payload).
MAX_ERROR = 500


@dataclass
class ParsedJob:
    job: ClaimedJob
    states: np.ndarray  # (n, 64) float32
    signals: np.ndarray  # (n, 32) float32


@dataclass(frozen=True)
class BadJob:
    """A claimed job that failed its parse: answered 'failed' with `error`, never batched."""

    job: ClaimedJob
    error: str


def error_text(message: str) -> str:
    """A message as a job's error: one line of text PostgreSQL can store, at most MAX_ERROR
    characters (a malformed row's values may be long, or hold characters text cannot)."""
    text = message.replace("\x00", "\\x00")
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def _shown(value: object) -> str:
    """A value from a malformed row, short enough for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _flat(values: object, name: str, nulls: bool = False) -> list[Any]:
    """A one-dimensional array column as a list: nested lists (a multi-dimensional array) and,
    unless `nulls`, null elements are refused with the column named. One pass over the element
    types in C: this runs for every job of every round."""
    if not isinstance(values, list):
        raise BadJobError(f"{name} must be an array, got {_shown(values)}")
    types = set(map(type, values))
    if list in types:
        raise BadJobError(f"{name} must be one-dimensional, got a multi-dimensional array")
    if not nulls and type(None) in types:
        position = values.index(None) + 1
        raise BadJobError(f"{name} must be without nulls, got a null at position {position}")
    return values


def parse_claimed(job: ClaimedJob) -> ParsedJob | BadJob:
    """A claimed job checked for the batch, or why it cannot be answered. Never raises: anything
    wrong with a row's content, foreseen or not, fails that job alone."""
    try:
        return parse_job(job)
    except BadJobError as exc:
        return BadJob(job, error_text(str(exc)))
    except Exception as exc:  # a defect no check above foresaw still fails its job alone
        return BadJob(job, error_text(f"malformed job ({type(exc).__name__}): {exc}"))


def parse_job(job: ClaimedJob) -> ParsedJob:
    """Check every column of a claimed job against the shape the batch needs; raises
    BadJobError naming the first thing wrong."""
    if job.defect is not None:
        raise BadJobError(job.defect)
    monster_ids = _flat(job.monster_ids, "monster_ids")
    n = len(monster_ids)
    if n == 0:
        raise BadJobError("job has no monsters")
    if job.kind not in ("pack", "gateway"):
        raise BadJobError(f"unknown job kind {_shown(job.kind)}")
    if job.kind == "gateway" and job.gateway_request_id is None:
        raise BadJobError("gateway job has no gateway request to answer")
    if job.kind == "gateway" and n != 1:
        raise BadJobError(f"gateway job must have one monster, got {n}")
    archetypes = _flat(job.archetypes, "archetypes", nulls=True)
    if len(archetypes) != n:
        raise BadJobError(f"job has {n} monsters but {len(archetypes)} archetypes")
    if not ARCHETYPES.issuperset(archetypes):
        unknown = next(a for a in archetypes if a not in ARCHETYPES)
        raise BadJobError(f"unknown archetype {_shown(unknown)}")
    leaders = _flat(job.pack_leader_ids, "pack_leader_ids", nulls=True)
    if len(leaders) != n:
        raise BadJobError(f"job has {n} monsters but {len(leaders)} pack leaders")
    try:
        states = (
            packed_float32(job.states, n)
            if isinstance(job.states, bytes)
            else np.asarray(job.states, dtype=np.float32)
        )
    except ArrayFormatError as exc:
        raise BadJobError(f"packed states: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise BadJobError(f"states must be {n} x {STATE_DIM} floats: {exc}") from exc
    if states.shape != (n, STATE_DIM):
        # One monster's vector of the wrong width (the legacy gateway's usual mistake), or
        # states that do not make n vectors at all.
        if (states.ndim == 2 and states.shape[0] == n) or (states.ndim == 1 and n == 1):
            raise BadJobError(f"state vector must have {STATE_DIM} floats, got {states.shape[-1]}")
        shape = " x ".join(map(str, states.shape))
        raise BadJobError(f"states must be {n} x {STATE_DIM} floats, got {shape}")
    finite = np.isfinite(states).all(axis=1)
    if not finite.all():
        monster = monster_ids[int(np.argmin(finite))]
        raise BadJobError(f"state vector of monster {monster} contains NaN or infinity")
    rows = _flat(job.signal_rows, "signal_rows")
    dims = _flat(job.signal_dims, "signal_dims")
    weights = job.signal_weights
    if isinstance(weights, list):
        weights = _flat(weights, "signal_weights", nulls=True)
    elif np.ndim(weights) != 1:
        raise BadJobError("signal_weights must be one-dimensional, got a multi-dimensional array")
    signals = dense_signals(
        n,
        np.asarray(rows, dtype=np.int64),
        np.asarray(dims, dtype=np.int64),
        np.asarray(weights, dtype=np.float32),
    )
    return ParsedJob(job, states, signals)


def round_memory(parsed: list[ParsedJob], offsets: np.ndarray) -> dict[int, bytes]:
    """The recurrent memory the claim read for the round's pack jobs, by row of the round. A
    position outside its job (never claimed so) is dropped rather than given to another job's
    monster."""
    memory: dict[int, bytes] = {}
    for j, p in enumerate(parsed):
        if p.job.kind != "pack" or not p.job.memory_rows:
            continue
        lo, n = int(offsets[j]), len(p.job.monster_ids)
        memory.update(
            (lo + pos - 1, kept)
            for pos, kept in zip(p.job.memory_rows, p.job.memory, strict=False)
            if 1 <= pos <= n
        )
    return memory


def decide_round(jobs: list[ClaimedJob], pool: ActorPool, threshold: float) -> list[Answer]:
    """One answer per claimed job, with one ONNX call per model and use for the whole round."""
    started = time.perf_counter()
    answers: dict[int, Answer] = {}
    parsed: list[ParsedJob] = []
    for job in jobs:
        checked = parse_claimed(job)
        if isinstance(checked, BadJob):
            answers[job.id] = Answer(job.id, "failed", None, checked.error)
        else:
            parsed.append(checked)

    # Every monster of the round in one array, jobs back to back (job j owns rows
    # offsets[j]:offsets[j + 1]); each archetype's rows go through its actors in one call each.
    offsets = np.cumsum([0, *(len(p.job.monster_ids) for p in parsed)])
    total = int(offsets[-1])
    actions = np.full(total, TRADITIONAL_AI, dtype=np.int64)
    confidence = np.zeros(total, dtype=np.float32)
    reasons: dict[int, str] = {}  # row -> why it got the traditional AI
    versions = np.full(total, None, dtype=object)  # row -> version of the model that answered
    legacy = np.zeros(total, dtype=bool)  # row -> its action is a legacy action id (combat model)
    failures: dict[int, str] = {}  # row -> inference error: its job fails
    memory = round_memory(parsed, offsets)  # row -> recurrent state its last tick left
    kept_model = np.zeros(total, dtype=np.int64)  # row -> model of its new state (0: none kept)
    kept: dict[int, bytes] = {}  # row -> its new recurrent state

    def keep(rows: np.ndarray, model_id: int, new_hidden: np.ndarray) -> None:
        """The rows' new recurrent states (those memory_states keeps), to write with their
        jobs' answers."""
        finite, states = memory_states(new_hidden)
        rows = rows[finite]
        kept_model[rows] = model_id
        kept.update(zip(rows.tolist(), states, strict=True))

    def job_memory(job: ClaimedJob, lo: int, hi: int) -> Memory | None:
        """The new recurrent states of a job's monsters (the round's rows lo:hi), or None."""
        at = np.flatnonzero(kept_model[lo:hi]).tolist()
        if not at:
            return None
        return Memory(
            [int(kept_model[lo + i]) for i in at],
            [job.monster_ids[i] for i in at],
            [kept[lo + i] for i in at],
        )

    def answer(
        rows: np.ndarray,
        actor: ActorSession | None,
        infer: Callable[[ActorSession, np.ndarray], np.ndarray],
        missing: str,
    ) -> None:
        """The rows' actions from one call of `actor` (`missing` is their reason without one)."""
        if not rows.size:
            return
        if actor is None:
            reasons.update(dict.fromkeys(rows.tolist(), missing))
            return
        combat = actor.model_type != PACK_MODEL
        try:
            probs = infer(actor, rows)
        except Exception as exc:  # an ONNX Runtime failure fails the jobs of this model only
            which = f" ({actor.model_type} model)" if combat else ""
            error = f"inference failed for archetype {actor.archetype!r}{which}: {exc}"
            failures.update(dict.fromkeys(rows.tolist(), error_text(error)))
            return
        versions[rows] = actor.version
        choice = choose(probs, states[rows], actor.model_type, actor.archetype)
        actions[rows] = choice.actions
        confidence[rows] = choice.confidence
        reasons.update({int(rows[i]): why for i, why in choice.reasons.items()})

    if total:
        states = np.concatenate([p.states for p in parsed])
        signals = np.concatenate([p.signals for p in parsed])
        archetypes = np.array([a for p in parsed for a in p.job.archetypes])
        gateway = np.repeat([p.job.kind == "gateway" for p in parsed], np.diff(offsets))

        def per_monster(actor: ActorSession, rows: np.ndarray) -> np.ndarray:
            """Pack jobs: each monster from the GRU state its last tick left (all of this
            model's rows of the round in one array, one call), its new state kept."""
            hidden = gather_memory(memory, rows, actor.hidden_dim)
            probs, new_hidden = actor.run(states[rows], signals[rows], hidden)
            if new_hidden is not None:
                keep(rows, actor.model_id, new_hidden)
            return probs

        def fresh(actor: ActorSession, rows: np.ndarray) -> np.ndarray:
            """Gateway requests to a pack actor: from a zero GRU state, nothing kept."""
            return actor.run(states[rows], signals[rows])[0]

        def combat(actor: ActorSession, rows: np.ndarray) -> np.ndarray:
            """Gateway requests to a combat model: the state alone, signals zeros."""
            return actor.run(states[rows], np.zeros((len(rows), SIGNAL_DIM), np.float32))[0]

        for archetype in np.unique(archetypes).tolist():
            of_archetype = archetypes == archetype
            gateway_rows = np.flatnonzero(of_archetype & gateway)
            no_pack = f"no deployed pack_coordination model for archetype {archetype!r}"
            answer(
                np.flatnonzero(of_archetype & ~gateway),
                pool.actors.get(archetype),
                per_monster,
                no_pack,
            )
            combat_actor = pool.combat.get(archetype)
            if combat_actor is not None:
                answer(gateway_rows, combat_actor, combat, "")
                legacy[gateway_rows] = True
            else:
                no_model = (
                    f"no deployed combat or pack_coordination model for archetype {archetype!r}"
                )
                answer(gateway_rows, pool.actors.get(archetype), fresh, no_model)

    elapsed_ms = round((time.perf_counter() - started) * 1000.0, 3)
    # Python lists once for the whole round: the per-job work below slices plain ints/floats.
    all_actions = actions.tolist()
    all_confidence = confidence.tolist()
    for j, p in enumerate(parsed):
        lo, hi = int(offsets[j]), int(offsets[j + 1])
        if failures and (failed := [failures[r] for r in range(lo, hi) if r in failures]):
            answers[p.job.id] = Answer(p.job.id, "failed", None, failed[0])
            continue
        job_reasons = [reasons.get(row) for row in range(lo, hi)] if reasons else None
        try:
            decisions = build_decisions(
                p,
                all_actions[lo:hi],
                all_confidence[lo:hi],
                job_reasons if job_reasons and any(job_reasons) else None,
                sorted({v for v in versions[lo:hi].tolist() if v is not None}),
                bool(legacy[lo:hi].any()),
                threshold,
                elapsed_ms,
                job_memory(p.job, lo, hi),
            )
        except Exception as exc:  # its answer cannot be made: this job fails, not the round
            error = error_text(f"its answer could not be made ({type(exc).__name__}): {exc}")
            answers[p.job.id] = Answer(p.job.id, "failed", None, error)
            continue
        answers[p.job.id] = Answer(p.job.id, "done", decisions, None)
    return [answers[job.id] for job in jobs]


def decide_each(jobs: list[ClaimedJob], pool: ActorPool, threshold: float) -> list[Answer]:
    """The round job by job, after deciding it at once raised: each job is its own round, and
    one that still raises fails alone with the error instead of taking the others with it."""
    answers = []
    for job in jobs:
        try:
            [answer] = decide_round([job], pool, threshold)
        except Exception as exc:
            error = error_text(f"the worker could not decide it ({type(exc).__name__}): {exc}")
            answer = Answer(job.id, "failed", None, error)
        answers.append(answer)
    return answers


def build_decisions(
    parsed: ParsedJob,
    actions: list[int],
    confidence: list[float],
    reasons: list[str | None] | None,
    versions: list[str],
    legacy: bool,
    threshold: float,
    elapsed_ms: float,
    memory: Memory | None = None,
) -> Decisions:
    """A job's answer from its monsters' actions; `versions` are the models that answered them,
    `legacy` whether the actions are legacy gateway action ids (a combat model's), `memory` the
    recurrent states they left."""
    job = parsed.job
    scored, coordinated = score_decisions(
        job.monster_ids, job.pack_leader_ids, parsed.signals, actions, threshold
    )
    return Decisions(
        actions=actions,
        confidences=confidence,
        coordinated=coordinated,
        reasons=reasons,
        coordination_score=scored.score,
        model_version=",".join(versions) or None,
        inference_ms=elapsed_ms,
        legacy=legacy,
        memory=memory,
    )
