"""Model registry against the real server: register a verified export, list it, read it back."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import numpy as np
import psycopg
import pytest

from models.export.onnx import ExportRejectedError, session
from models.export.registry import (
    RegistrationError,
    fetch_onnx,
    fetch_onnx_sync,
    list_models,
    list_models_sync,
    register_actor,
    register_actor_sync,
)
from tests.ctde_helpers import SMALL_HIDDEN, small_export


def test_worker_registers_lists_and_reads_back_over_asyncpg(worker_url: str) -> None:
    exported = small_export()

    async def scenario() -> tuple[int, list[Any], dict[str, bytes]]:
        conn = await asyncpg.connect(worker_url)
        try:
            model_id = await register_actor(
                conn,
                exported,
                archetype="aggressive",
                version="1.0",
                extra_metrics={"training_step": 1000},
            )
            records = await list_models(conn, archetype="aggressive")
            files = {p: await fetch_onnx(conn, model_id, p) for p in ("fp32", "fp16", "int8")}
            return model_id, records, files
        finally:
            await conn.close()

    model_id, records, files = asyncio.run(scenario())
    (record,) = records
    assert record.id == model_id
    assert (record.archetype, record.model_type, record.version) == (
        "aggressive",
        "pack_coordination",
        "1.0",
    )
    assert (record.model_name, record.network_type) == ("CTDE Actor v1.0", "ctde")
    assert (record.training_status, record.is_deployed) == ("validated", False)
    assert (record.state_dim, record.signal_dim, record.action_dim) == (64, 32, 7)
    assert record.hidden_dim == SMALL_HIDDEN
    assert record.onnx_sha256 == exported.metrics["onnx"]["fp32"]["sha256"]
    assert record.onnx_bytes == {p: len(exported.file(p)) for p in ("fp32", "fp16", "int8")}
    assert record.metrics["training_step"] == 1000
    assert record.metrics["onnx"]["int8"]["action_agreement"] >= 0.99
    for precision, data in files.items():
        assert data == exported.file(precision)
    # What the worker loads from the registry runs.
    feeds = {
        "state": np.zeros((2, 64), np.float32),
        "signals": np.zeros((2, 32), np.float32),
        "hidden": np.zeros((2, SMALL_HIDDEN), np.float32),
    }
    assert session(files["int8"]).run(None, feeds)[0].shape == (2, 7)


def test_sync_registration_and_duplicate_version(worker_url: str) -> None:
    exported = small_export()
    with psycopg.connect(worker_url) as conn:
        model_id = register_actor_sync(conn, exported, archetype="tank", version="2.0")
        with pytest.raises(RegistrationError, match=r"tank/pack_coordination version '2\.0'"):
            register_actor_sync(conn, exported, archetype="tank", version="2.0")
        other = register_actor_sync(conn, exported, archetype="tank", version="2.1")
        records = list_models_sync(conn, archetype="tank")
        assert [r.id for r in records] == [other, model_id]  # newest first
        assert list_models_sync(conn, archetype="mage") == []
        assert fetch_onnx_sync(conn, model_id, "fp16") == exported.onnx_fp16
        with pytest.raises(LookupError):
            fetch_onnx_sync(conn, 999_999)


def test_refused_exports_leave_no_row(worker_url: str) -> None:
    exported = small_export()
    poor = dataclasses.replace(
        exported,
        metrics={
            "onnx": {**exported.metrics["onnx"], "int8": {"action_agreement": 0.95}},
        },
    )
    with psycopg.connect(worker_url) as conn:
        with pytest.raises(ExportRejectedError, match="INT8 action agreement"):
            register_actor_sync(conn, poor, archetype="support", version="1")
        with pytest.raises(RegistrationError, match="unknown archetype 'sniper'"):
            register_actor_sync(conn, exported, archetype="sniper", version="1")
        assert list_models_sync(conn) == []
