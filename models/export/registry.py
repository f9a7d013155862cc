"""The model registry (ml.ml_models): register a verified actor export, list models, read files.

The trainer and the worker call these. Each function exists for asyncpg (the worker, a Connection
or a Pool) and for psycopg 3 (`*_sync`, scripts and the trainer); both run the same named queries
from sql/queries/ with PostgreSQL's own $n parameters (psycopg through its RawCursor).

Registration refuses an export whose FP32 parity is worse than 1e-5 or whose FP16 or INT8 action
agreement with FP32 is below 99% (`ExportedActor.check_thresholds`), and one whose shape does not
fit its model type (`check_model_type`): `pack_coordination` answers the 7 pack actions; `combat`
answers the game server's 10 executable actions (the legacy gateway's action ids) without a
recurrent state. A registered model is `validated`; deploying it is an operator's UPDATE
(`is_deployed = true`), which the worker hears.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import psycopg
from psycopg.rows import dict_row

from config.model_types import ACTION_DIMS, GATEWAY_TYPES, PACK_COORDINATION
from config.queries import query
from models.export.onnx import PRECISIONS, ExportedActor

ARCHETYPES = ("aggressive", "defensive", "support", "mage", "tank", "ranged")
MODEL_TYPE = PACK_COORDINATION
NETWORK_TYPE = "ctde"


class RegistrationError(RuntimeError):
    """A model that cannot be registered (invalid argument, or that version exists already)."""


@dataclass(frozen=True)
class ModelRecord:
    """One ml_models row, without the ONNX bytes."""

    id: int
    archetype: str
    model_type: str
    model_name: str
    version: str
    network_type: str
    training_status: str
    is_deployed: bool
    deployed_at: datetime | None
    created_at: datetime
    state_dim: int | None
    signal_dim: int | None
    action_dim: int | None
    hidden_dim: int | None
    """Width of the actor's recurrent state (`hidden`/`hidden_out`); 0 without GRU."""
    onnx_sha256: str | None
    """sha256 of the FP32 file (the others' are in metrics.onnx)."""
    onnx_bytes: dict[str, int]
    """Size of each stored file: fp32, fp16, int8 (0 when absent)."""
    metrics: dict[str, Any]
    load_error: str | None

    @classmethod
    def from_row(cls, row: Any) -> ModelRecord:
        return cls(
            id=row["id"],
            archetype=row["archetype"],
            model_type=row["model_type"],
            model_name=row["model_name"],
            version=row["version"],
            network_type=row["network_type"],
            training_status=row["training_status"],
            is_deployed=row["is_deployed"],
            deployed_at=row["deployed_at"],
            created_at=row["created_at"],
            state_dim=row["state_dim"],
            signal_dim=row["signal_dim"],
            action_dim=row["action_dim"],
            hidden_dim=row["hidden_dim"],
            onnx_sha256=row["onnx_sha256"],
            onnx_bytes={p: row[f"{p}_bytes"] or 0 for p in PRECISIONS},
            metrics=json.loads(row["metrics"]),
            load_error=row["load_error"],
        )


def registration_params(
    exported: ExportedActor,
    *,
    archetype: str,
    version: str,
    model_name: str | None = None,
    model_type: str = MODEL_TYPE,
    training_status: str = "validated",
    extra_metrics: dict[str, Any] | None = None,
) -> list[Any]:
    """Bind parameters of sql/queries/register_model.sql; refuses exports below the thresholds."""
    if archetype not in ARCHETYPES:
        raise RegistrationError(f"unknown archetype {archetype!r} (known: {', '.join(ARCHETYPES)})")
    check_model_type(exported, model_type)
    exported.check_thresholds()
    metrics = {**exported.metrics, **(extra_metrics or {})}
    return [
        archetype,
        model_type,
        model_name or f"CTDE Actor v{version}",
        version,
        NETWORK_TYPE,
        training_status,
        exported.onnx_fp32,
        exported.onnx_fp16,
        exported.onnx_int8,
        exported.metrics["onnx"]["fp32"]["sha256"],
        exported.state_dim,
        exported.signal_dim,
        exported.action_dim,
        exported.hidden_dim,
        json.dumps(metrics, allow_nan=False, sort_keys=True),
    ]


def check_model_type(exported: ExportedActor, model_type: str) -> None:
    """RegistrationError unless the export's shape fits `model_type` (what the worker checks
    again when it loads the model)."""
    actions = ACTION_DIMS.get(model_type)
    if actions is None:
        raise RegistrationError(
            f"unknown model type {model_type!r} (known: {', '.join(ACTION_DIMS)})"
        )
    if exported.action_dim != actions:
        raise RegistrationError(
            f"a {model_type} model answers {actions} actions, this export {exported.action_dim}"
        )
    if model_type in GATEWAY_TYPES and exported.hidden_dim:
        raise RegistrationError(
            "a combat model decides from the gateway request alone: no recurrent state "
            f"(this export has hidden_dim {exported.hidden_dim})"
        )


def _duplicate(params: list[Any]) -> RegistrationError:
    archetype, model_type, _, version = params[:4]
    return RegistrationError(f"{archetype}/{model_type} version {version!r} is already registered")


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


async def register_actor(
    conn: asyncpg.Connection | asyncpg.Pool,
    exported: ExportedActor,
    *,
    archetype: str,
    version: str,
    model_name: str | None = None,
    model_type: str = MODEL_TYPE,
    training_status: str = "validated",
    extra_metrics: dict[str, Any] | None = None,
) -> int:
    """Insert a verified export into ml_models; returns the model id."""
    params = registration_params(
        exported,
        archetype=archetype,
        version=version,
        model_name=model_name,
        model_type=model_type,
        training_status=training_status,
        extra_metrics=extra_metrics,
    )
    try:
        return int(await conn.fetchval(query("register_model"), *params))
    except asyncpg.UniqueViolationError:
        raise _duplicate(params) from None


def register_actor_sync(
    conn: psycopg.Connection[Any],
    exported: ExportedActor,
    *,
    archetype: str,
    version: str,
    model_name: str | None = None,
    model_type: str = MODEL_TYPE,
    training_status: str = "validated",
    extra_metrics: dict[str, Any] | None = None,
) -> int:
    """register_actor for psycopg; commits unless called inside the caller's transaction."""
    params = registration_params(
        exported,
        archetype=archetype,
        version=version,
        model_name=model_name,
        model_type=model_type,
        training_status=training_status,
        extra_metrics=extra_metrics,
    )
    try:
        with conn.transaction(), psycopg.RawCursor(conn) as cur:
            row = cur.execute(query("register_model"), params).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _duplicate(params) from None
    assert row is not None
    return int(row[0])


async def list_models(
    conn: asyncpg.Connection | asyncpg.Pool,
    archetype: str | None = None,
    model_type: str | None = None,
) -> list[ModelRecord]:
    """Registered models (newest first within archetype and type), without their bytes."""
    rows = await conn.fetch(query("list_models"), archetype, model_type)
    return [ModelRecord.from_row(row) for row in rows]


def list_models_sync(
    conn: psycopg.Connection[Any], archetype: str | None = None, model_type: str | None = None
) -> list[ModelRecord]:
    with psycopg.RawCursor(conn, row_factory=dict_row) as cur:
        rows = cur.execute(query("list_models"), [archetype, model_type]).fetchall()
    return [ModelRecord.from_row(row) for row in rows]


async def fetch_onnx(
    conn: asyncpg.Connection | asyncpg.Pool, model_id: int, precision: str = "fp32"
) -> bytes:
    """The ONNX file of one model in one precision; LookupError when there is none."""
    _check_precision(precision)
    data = await conn.fetchval(query("model_onnx"), model_id, precision)
    if data is None:
        raise LookupError(f"model {model_id} has no {precision} ONNX file")
    return bytes(data)


def fetch_onnx_sync(conn: psycopg.Connection[Any], model_id: int, precision: str = "fp32") -> bytes:
    _check_precision(precision)
    with psycopg.RawCursor(conn) as cur:
        row = cur.execute(query("model_onnx"), [model_id, precision]).fetchone()
    if row is None or row[0] is None:
        raise LookupError(f"model {model_id} has no {precision} ONNX file")
    return bytes(row[0])
