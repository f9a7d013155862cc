"""The worker's port to the database: a small typed Protocol and its asyncpg implementation.

The worker core (claiming, batching, answering) talks to `JobStore` only; every statement is a named
query from sql/queries/ with bind parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import numpy as np

from config.queries import query
from worker.pgarrays import float4_array


@dataclass(frozen=True)
class ClaimedJob:
    """A decision job as the worker claimed it: everything needed to answer it is in the row."""

    id: int
    kind: str
    monster_ids: list[int]
    archetypes: list[str]
    states: np.ndarray | list[Any]  # n x 64
    signals: np.ndarray | list[Any]  # n x 32
    pack_leader_ids: list[int | None]
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class Answer:
    """What the worker writes back for one job."""

    job_id: int
    status: str  # 'done' or 'failed'
    result: dict[str, Any] | None
    error: str | None


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


class JobStore(Protocol):
    async def claim(self, worker_id: str, limit: int) -> list[ClaimedJob]: ...
    async def complete(self, worker_id: str, answers: Sequence[Answer]) -> int: ...
    async def announce_waiting(self, worker_id: str) -> None: ...
    async def fence_clear(self) -> bool: ...
    async def heartbeat(self, worker_id: str, jobs_done: int, status: str) -> None: ...
    async def rescue(self, lease_s: float) -> tuple[int, int]: ...
    async def register(
        self, worker_id: str, hostname: str, pid: int, providers: list[str]
    ) -> None: ...
    async def release_own_jobs(self, worker_id: str) -> int: ...
    async def deployed_models(self) -> list[DeployedModel]: ...
    async def record_model_error(self, model_id: int, error: str) -> None: ...


class AsyncpgJobStore:
    """JobStore over one asyncpg connection (the caller serializes its use)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, worker_id: str, limit: int) -> list[ClaimedJob]:
        rows = await self.conn.fetch(query("claim_inference_jobs"), worker_id, limit)
        return [
            ClaimedJob(
                id=r["id"],
                kind=r["kind"],
                monster_ids=list(r["monster_ids"]),
                archetypes=list(r["archetypes"]),
                states=float4_array(r["states"]),
                signals=float4_array(r["signals"]),
                pack_leader_ids=list(r["pack_leader_ids"]),
                attempts=r["attempts"],
                max_attempts=r["max_attempts"],
            )
            for r in rows
        ]

    async def complete(self, worker_id: str, answers: Sequence[Answer]) -> int:
        if not answers:
            return 0
        row = await self.conn.fetchrow(
            query("complete_inference_jobs"),
            worker_id,
            [a.job_id for a in answers],
            [a.status for a in answers],
            [None if a.result is None else json.dumps(a.result) for a in answers],
            [a.error for a in answers],
        )
        return int(row["finished"])

    async def announce_waiting(self, worker_id: str) -> None:
        """Mark the worker idle: new jobs NOTIFY it from now on."""
        await self.conn.execute(query("announce_waiting"), worker_id)

    async def fence_clear(self) -> bool:
        """Whether every submit that may have missed the idle mark has committed, so that a
        claim now sees every job that will not NOTIFY."""
        return bool(await self.conn.fetchval(query("fence_submits")))

    async def heartbeat(self, worker_id: str, jobs_done: int, status: str) -> None:
        await self.conn.execute(query("heartbeat"), worker_id, jobs_done, status)

    async def rescue(self, lease_s: float) -> tuple[int, int]:
        row = await self.conn.fetchrow(query("rescue_inference_jobs"), lease_s)
        return int(row["requeued"]), int(row["dead"])

    async def register(self, worker_id: str, hostname: str, pid: int, providers: list[str]) -> None:
        await self.conn.execute(query("register_worker"), worker_id, hostname, pid, providers)

    async def release_own_jobs(self, worker_id: str) -> int:
        row = await self.conn.fetchrow(query("release_own_jobs"), worker_id)
        return int(row["released"])

    async def deployed_models(self) -> list[DeployedModel]:
        rows = await self.conn.fetch(query("deployed_models"))
        return [DeployedModel(**dict(r)) for r in rows]

    async def record_model_error(self, model_id: int, error: str) -> None:
        await self.conn.execute(query("record_model_error"), model_id, error)
