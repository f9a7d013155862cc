"""Answer a round of claimed decision jobs: validate each job, batch every monster of an archetype
across jobs into one ONNX call, score pack coordination, and build one answer per job.

One bad job (wrong dims, NaN, unknown archetype) fails alone with its message; the rest of the
round is answered. A monster whose archetype has no deployed actor gets action 255 (use the
traditional AI) with the reason, never an exception.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from plpython import coordination
from worker.sessions import SIGNAL_DIM, STATE_DIM, ActorPool
from worker.store import Answer, ClaimedJob

TRADITIONAL_AI = 255
ARCHETYPES = frozenset({"aggressive", "defensive", "support", "mage", "tank", "ranged"})


class BadJobError(ValueError):
    """A job whose content cannot be answered; the message is stored as its error."""


@dataclass
class ParsedJob:
    job: ClaimedJob
    states: np.ndarray  # (n, 64) float32
    signals: np.ndarray  # (n, 32) float32


def parse_job(job: ClaimedJob) -> ParsedJob:
    n = len(job.monster_ids)
    if n == 0:
        raise BadJobError("job has no monsters")
    if len(job.archetypes) != n:
        raise BadJobError(f"job has {n} monsters but {len(job.archetypes)} archetypes")
    unknown = sorted({a for a in job.archetypes if a not in ARCHETYPES})
    if unknown:
        raise BadJobError(f"unknown archetype {unknown[0]!r}")
    try:
        states = np.asarray(job.states, dtype=np.float32)
        signals = np.asarray(job.signals, dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise BadJobError(f"state or signal arrays are ragged: {exc}") from exc
    if states.shape != (n, STATE_DIM):
        width = states.shape[-1] if states.ndim == 2 else states.size
        raise BadJobError(f"state vector must have {STATE_DIM} floats, got {width}")
    if signals.shape != (n, SIGNAL_DIM):
        raise BadJobError(f"signal vectors must be {n} x {SIGNAL_DIM}, got {signals.shape}")
    if not np.isfinite(states).all():
        raise BadJobError("state vector contains NaN or infinity")
    if not np.isfinite(signals).all():
        raise BadJobError("signal vector contains NaN or infinity")
    return ParsedJob(job, states, signals)


def decide_round(jobs: list[ClaimedJob], pool: ActorPool, threshold: float) -> list[Answer]:
    """One answer per claimed job, with one ONNX call per archetype for the whole round."""
    started = time.perf_counter()
    answers: dict[int, Answer] = {}
    parsed: list[ParsedJob] = []
    for job in jobs:
        try:
            parsed.append(parse_job(job))
        except BadJobError as exc:
            answers[job.id] = Answer(job.id, "failed", None, str(exc))

    # Gather every monster of an archetype from every job: (job index, row) pairs per archetype.
    by_archetype: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for j, p in enumerate(parsed):
        for row, archetype in enumerate(p.job.archetypes):
            by_archetype[archetype].append((j, row))

    actions = [np.full(len(p.job.monster_ids), TRADITIONAL_AI, dtype=np.int64) for p in parsed]
    confidence = [np.zeros(len(p.job.monster_ids), dtype=np.float32) for p in parsed]
    reasons: list[dict[int, str]] = [{} for _ in parsed]
    versions: dict[str, str] = {}
    failed_jobs: dict[int, str] = {}
    for archetype, members in by_archetype.items():
        actor = pool.actors.get(archetype)
        if actor is None:
            for j, row in members:
                reasons[j][row] = f"no deployed pack_coordination model for archetype {archetype!r}"
            continue
        ids = [parsed[j].job.monster_ids[row] for j, row in members]
        states = np.stack([parsed[j].states[row] for j, row in members])
        signals = np.stack([parsed[j].signals[row] for j, row in members])
        try:
            probs = actor.run(ids, states, signals)
        except Exception as exc:  # an ONNX Runtime failure fails the jobs of this model only
            for j, _ in members:
                failed_jobs[j] = f"inference failed for archetype {archetype!r}: {exc}"
            continue
        chosen = probs.argmax(axis=1)
        for k, (j, row) in enumerate(members):
            actions[j][row] = chosen[k]
            confidence[j][row] = probs[k, chosen[k]]
        versions[archetype] = actor.version

    elapsed_ms = (time.perf_counter() - started) * 1000.0
    for j, p in enumerate(parsed):
        if j in failed_jobs:
            answers[p.job.id] = Answer(p.job.id, "failed", None, failed_jobs[j])
            continue
        answers[p.job.id] = Answer(
            p.job.id,
            "done",
            build_result(p, actions[j], confidence[j], reasons[j], versions, threshold, elapsed_ms),
            None,
        )
    return [answers[job.id] for job in jobs]


def build_result(
    parsed: ParsedJob,
    actions: np.ndarray,
    confidence: np.ndarray,
    reasons: dict[int, str],
    versions: dict[str, str],
    threshold: float,
    elapsed_ms: float,
) -> dict[str, object]:
    job = parsed.job
    # The seed's score over this job's monsters: live signals, pack coverage, leader present,
    # diversity of the actions chosen (255 counts as one more "action": the traditional AI).
    scored = coordination.coordination_score(
        monster_ids=job.monster_ids,
        pack_leader_ids=job.pack_leader_ids,
        signalled=list(map(bool, np.any(parsed.signals, axis=1).tolist())),  # has_signal
        actions=[int(a) for a in actions],
        threshold=threshold,
    )
    score, bonus_applies = scored.score, scored.bonus
    rows: list[dict[str, object]] = []
    for i, monster in enumerate(job.monster_ids):
        in_pack = job.pack_leader_ids[i] is not None
        action = int(actions[i])
        coordinated = bonus_applies and in_pack and action != TRADITIONAL_AI
        entry: dict[str, object] = {
            "monster_id": monster,
            "action": action,
            "confidence": round(float(confidence[i]), 6),
            "coordinated": coordinated,
            "coordination_bonus": round(score, 6) if coordinated else 0.0,
        }
        if i in reasons:
            entry["reason"] = reasons[i]
        rows.append(entry)
    versions_used = sorted({versions[a] for a in job.archetypes if a in versions})
    return {
        "actions": rows,
        "coordination_score": round(score, 6),
        "model_version": ",".join(versions_used) or None,
        "inference_ms": round(elapsed_ms, 3),
    }
