"""The worker's port to the database: a small typed Protocol and its asyncpg implementation.

The worker core (claiming, batching, answering) talks to `JobStore` only; every statement is a named
query from sql/queries/ with bind parameters.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import numpy as np

from config.queries import query
from plpython.pgarrays import ArrayFormatError, float4_array


@dataclass(frozen=True)
class ClaimedJob:
    """A decision job as the worker claimed it: everything needed to answer it is in the row."""

    id: int
    kind: str
    monster_ids: list[int]
    archetypes: list[str]
    # n x 64: an array, or float32 little-endian bytes as the game server packed them
    # (decoded by the round, where a malformed one fails its job alone).
    states: np.ndarray | list[Any] | bytes
    # The non-zero entries of the signal vectors: monster_ids[signal_rows[i] - 1] has
    # signal_weights[i] in dimension signal_dims[i] (0-31).
    signal_rows: list[int]
    signal_dims: list[int]
    signal_weights: np.ndarray | list[float]
    pack_leader_ids: list[int | None]
    attempts: int
    max_attempts: int
    # The legacy gateway's request a 'gateway' job answers (None for a pack job).
    gateway_request_id: int | None = None
    # Why the row could not even be read into a job (its parse fails with this), or None.
    defect: str | None = None
    # Claimed after its attempts were used up: given back as dead, never decided.
    exhausted: bool = False
    # A pack job's recurrent memory (ml.monster_memory) under the models this worker serves:
    # memory[i] is the state (float32 little-endian) of the monster at position memory_rows[i]
    # (1-based, in no particular order); a monster without one starts from zeros.
    memory_rows: Sequence[int] = ()
    memory: Sequence[bytes] = ()


@dataclass(frozen=True)
class Memory:
    """Recurrent states a job's answer leaves, to keep in ml.monster_memory: hidden[i]
    (float32 little-endian) for monster_ids[i] under model model_ids[i]."""

    model_ids: list[int]
    monster_ids: list[int]
    hidden: list[bytes]


@dataclass(frozen=True)
class Decisions:
    """A job's answer, per monster in the order of its request."""

    actions: list[int]  # pack action 0-6 (legacy action 0-9 when `legacy`), or 255: traditional AI
    confidences: list[float]
    coordinated: list[bool]
    reasons: list[str | None] | None  # why a monster got 255; None when every monster has a model
    coordination_score: float
    model_version: str | None
    inference_ms: float
    # The actions are the legacy gateway's action ids already (a gateway job answered by its
    # archetype's combat model), not pack actions to map through ml.legacy_action_map.
    legacy: bool = False
    # The recurrent states its monsters' pack actors left (None: none, e.g. a gateway job),
    # written with the answer.
    memory: Memory | None = None


@dataclass(frozen=True)
class Answer:
    """What the worker writes back for one job: its decisions, or why it failed."""

    job_id: int
    status: str  # 'done' or 'failed'
    decisions: Decisions | None
    error: str | None


@dataclass(frozen=True)
class DeployedVersion:
    """A deployed model as the cheap version query sees it (no ONNX bytes): the worker fetches a
    model's bytes only when this changes."""

    id: int
    archetype: str
    model_type: str
    version: str
    onnx_sha256: str | None
    fp32_bytes: int | None
    fp16_bytes: int | None
    int8_bytes: int | None


@dataclass(frozen=True)
class DeployedModel:
    id: int
    archetype: str
    model_type: str
    version: str
    onnx_sha256: str | None
    onnx_fp32: bytes | None
    onnx_fp16: bytes | None
    onnx_int8: bytes | None
    state_dim: int | None
    signal_dim: int | None
    action_dim: int | None
    hidden_dim: int | None


def claimed_job(r: Mapping[str, Any]) -> ClaimedJob:
    """A claimed row as a job. Never raises on the row's content: what cannot be read is the
    job's `defect`, and its parse (worker/decide.py) fails that job alone."""
    defect = None
    try:
        states = float4_array(r["states"]) if r["states"] is not None else r["states_f32"]
        weights: np.ndarray | list[float] = float4_array(r["signal_weights"])
    except (ArrayFormatError, struct.error, ValueError) as exc:
        states, weights, defect = b"", [], f"unreadable float array: {exc}"
    return ClaimedJob(
        id=r["id"],
        kind=r["kind"],
        monster_ids=list(r["monster_ids"]),
        archetypes=list(r["archetypes"]),
        states=states,
        signal_rows=list(r["signal_rows"]),
        signal_dims=list(r["signal_dims"]),
        signal_weights=weights,
        pack_leader_ids=list(r["pack_leader_ids"]),
        attempts=r["attempts"],
        max_attempts=r["max_attempts"],
        gateway_request_id=r["gateway_request_id"],
        defect=defect,
        exhausted=r["exhausted"],
        memory_rows=r["memory_rows"] or (),
        memory=r["memory"] or (),
    )


def memory_entries(
    answers: Sequence[Answer],
) -> tuple[list[int], list[int], list[int], list[bytes]]:
    """The recurrent states of a round's answers, one entry per state: (job ids, model ids,
    monster ids, states). The answer statement keeps those of the jobs it finishes."""
    job_ids: list[int] = []
    model_ids: list[int] = []
    monster_ids: list[int] = []
    hidden: list[bytes] = []
    for a in answers:
        kept = a.decisions.memory if a.decisions is not None else None
        if kept is not None:
            job_ids += [a.job_id] * len(kept.hidden)
            model_ids += kept.model_ids
            monster_ids += kept.monster_ids
            hidden += kept.hidden
    return job_ids, model_ids, monster_ids, hidden


class JobStore(Protocol):
    async def claim(
        self, worker_id: str, limit: int, memory_models: Mapping[str, int]
    ) -> list[ClaimedJob]: ...
    async def complete(self, worker_id: str, answers: Sequence[Answer]) -> int: ...
    async def fence_clear(self) -> bool: ...
    async def heartbeat(self, worker_id: str, jobs_done: int, status: str) -> None: ...
    async def rescue(self, lease_s: float) -> tuple[int, int]: ...
    async def give_back(
        self, worker_id: str, job_ids: list[int], error: str
    ) -> tuple[int, int]: ...
    async def register(
        self, worker_id: str, hostname: str, pid: int, providers: list[str]
    ) -> None: ...
    async def bury(self, worker_id: str, job_ids: list[int], error: str) -> int: ...
    async def release_own_jobs(self, worker_id: str) -> tuple[int, int]: ...
    async def deployed_versions(self) -> list[DeployedVersion]: ...
    async def deployed_models(self, ids: list[int]) -> list[DeployedModel]: ...
    async def record_model_error(self, model_id: int, error: str) -> None: ...


class AsyncpgJobStore:
    """JobStore over one asyncpg connection (the caller serializes its use)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        # Gateway requests answered while a client held their rows locked: their status is set
        # on a later round (the answer statement never waits for a client's lock).
        self.unsettled: set[int] = set()

    async def claim(
        self, worker_id: str, limit: int, memory_models: Mapping[str, int]
    ) -> list[ClaimedJob]:
        """Claim up to `limit` pending jobs; an empty claim marks the worker idle. Pack jobs come
        with their monsters' recurrent memory under `memory_models` (archetype -> the id of the
        recurrent pack actor serving it)."""
        rows = await self.conn.fetch(
            query("claim_inference_jobs"),
            worker_id,
            limit,
            list(memory_models),
            list(memory_models.values()),
        )
        return [claimed_job(r) for r in rows]

    async def complete(self, worker_id: str, answers: Sequence[Answer]) -> int:
        """Write a round's answers in one statement; returns how many jobs it answered."""
        if not answers:
            return 0
        decided = [a.decisions for a in answers]
        # Reasons travel only in a round where some job has them (the statement reads them only
        # for those jobs): a batch of 256 answered monsters sent 256 nulls every round otherwise.
        any_reasons = any(d is not None and d.reasons is not None for d in decided)
        # Every job's per-monster values back to back, each job's slice given by (lo, n).
        lo, n = [], []
        actions: list[int] = []
        confidences: list[float] = []
        coordinated: list[bool] = []
        reasons: list[str | None] = []
        for d in decided:
            lo.append(len(actions) + 1)
            n.append(0 if d is None else len(d.actions))
            if d is not None:
                actions += d.actions
                confidences += d.confidences
                coordinated += d.coordinated
                if any_reasons:
                    reasons += d.reasons or [None] * len(d.actions)
        memory = memory_entries(answers)
        row = await self.conn.fetchrow(
            query("complete_inference_jobs"),
            worker_id,
            [a.job_id for a in answers],
            [a.status for a in answers],
            [a.error for a in answers],
            lo,
            n,
            [None if d is None else d.coordination_score for d in decided],
            [None if d is None else d.model_version for d in decided],
            [None if d is None else d.inference_ms for d in decided],
            [d is not None and d.reasons is not None for d in decided],
            actions,
            confidences,
            coordinated,
            reasons,
            [d is not None and d.legacy for d in decided],
            *memory,
        )
        self.unsettled.update(row["unsettled"])
        if self.unsettled:
            still = await self.conn.fetchval(query("settle_gateway_status"), list(self.unsettled))
            self.unsettled = set(still)
        return int(row["finished"])

    async def fence_clear(self) -> bool:
        """Whether every submit that may have missed the idle mark has committed, so that a
        claim now sees every job that will not NOTIFY."""
        return bool(await self.conn.fetchval(query("fence_submits")))

    async def heartbeat(self, worker_id: str, jobs_done: int, status: str) -> None:
        await self.conn.execute(query("heartbeat"), worker_id, jobs_done, status)

    async def rescue(self, lease_s: float) -> tuple[int, int]:
        """Take back the jobs of workers silent for lease_s: (re-queued, dead)."""
        row = await self.conn.fetchrow(query("rescue_inference_jobs"), lease_s, None, None, None)
        return int(row["requeued"]), int(row["dead"])

    async def give_back(self, worker_id: str, job_ids: list[int], error: str) -> tuple[int, int]:
        """Give back jobs this worker holds and could not answer: another attempt, or dead with
        `error` (and answered) once out of attempts. (re-queued, dead)."""
        row = await self.conn.fetchrow(
            query("rescue_inference_jobs"), 0.0, worker_id, job_ids, error
        )
        return int(row["requeued"]), int(row["dead"])

    async def register(self, worker_id: str, hostname: str, pid: int, providers: list[str]) -> None:
        await self.conn.execute(query("register_worker"), worker_id, hostname, pid, providers)

    async def bury(self, worker_id: str, job_ids: list[int], error: str) -> int:
        """Dead with `error` and nothing else written: for jobs that could not even be given
        back. Returns how many it buried."""
        row = await self.conn.fetchrow(query("bury_inference_jobs"), worker_id, job_ids, error)
        return int(row["buried"])

    async def release_own_jobs(self, worker_id: str) -> tuple[int, int]:
        """Give back what this worker id still holds from before: (re-queued, dead)."""
        row = await self.conn.fetchrow(query("release_own_jobs"), worker_id)
        return int(row["released"]), int(row["dead"])

    async def deployed_versions(self) -> list[DeployedVersion]:
        rows = await self.conn.fetch(query("deployed_model_versions"))
        return [DeployedVersion(**dict(r)) for r in rows]

    async def deployed_models(self, ids: list[int]) -> list[DeployedModel]:
        rows = await self.conn.fetch(query("deployed_models"), ids)
        return [DeployedModel(**dict(r)) for r in rows]

    async def record_model_error(self, model_id: int, error: str) -> None:
        await self.conn.execute(query("record_model_error"), model_id, error)
