"""Register and deploy zoo models in ml.ml_models: the verified files, the validation report
(metrics -> 'validation'), the export figures. A file is registered once (by its FP32 sha256) and
its report kept current; the deploy is ml.deploy_model, which refuses a model below its bar
(ML013) unless forced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from config.queries import query
from models.export.onnx import sha256
from models.zoo.pipeline import hidden_dim, load_export
from models.zoo.store import ModelDir
from models.zoo.validation import failed_lines
from plpython.zoo_types import SIGNAL_DIM, ZOO_TYPES

#: ml_models.network_type of each zoo model type.
NETWORK_TYPES = {
    "combat_dqn": "double_dqn",
    "movement_ppo": "ppo",
    "skill_dqn": "double_dqn",
    "threat_assessment": "ensemble",
    "team_coordination": "lstm_ctde",
    "spatial_vit": "vit",
    "temporal_transformer": "transformer_xl",
    "pattern_recognition": "transformer",
    "sac": "sac",
}


@dataclass(frozen=True)
class Deployed:
    model_id: int
    version: str
    deployed: bool
    refused: str | None
    """Why ml.deploy_model refused it (ML013's message), else None."""
    failed: list[str]
    """The criteria it failed (deployed anyway when forced)."""


def metrics_of(where: ModelDir) -> dict[str, Any]:
    validation = where.read_json("report.json")
    if validation is None:
        raise FileNotFoundError(
            f"{where.path} has no validation report: run `python -m models.zoo evaluate` first"
        )
    return {
        "validation": validation,
        "export": where.read_json("export.json") or {},
        "training": {
            k: v for k, v in (where.read_json("train.json") or {}).items() if k != "history"
        },
    }


def register_export(
    conn: psycopg.Connection[Any],
    archetype: str,
    model_type: str,
    version: str,
    files: dict[str, bytes],
    metrics: dict[str, Any],
    *,
    hidden: int = 0,
    status: str = "trained",
) -> int:
    """Insert one export's verified files into ml_models; returns the row id."""
    spec = ZOO_TYPES[model_type]
    params = [
        archetype,
        model_type,
        f"{model_type} {archetype} ({version})",
        version,
        NETWORK_TYPES[model_type],
        status,
        files["fp32"],
        files.get("fp16"),
        files.get("int8"),
        sha256(files["fp32"]),
        spec.input_dim,
        SIGNAL_DIM if model_type == "team_coordination" else 0,
        spec.output_dim,
        hidden,
        json.dumps(metrics, allow_nan=False, sort_keys=True, default=float),
    ]
    with psycopg.RawCursor(conn) as cur:
        found = cur.execute(query("register_model"), params).fetchone()
    conn.commit()
    assert found is not None
    return int(found[0])


def register(conn: psycopg.Connection[Any], where: ModelDir) -> tuple[int, str]:
    """The registry row of this model's exported files (registered now if new); (id, version)."""
    files = load_export(where)
    metrics = metrics_of(where)
    status = "validated" if metrics["validation"]["passed"] else "trained"
    digest = sha256(files["fp32"])
    body = json.dumps(metrics, allow_nan=False, sort_keys=True, default=float)
    with psycopg.RawCursor(conn) as cur:
        row = cur.execute(
            query("zoo_registered"), [where.archetype, where.model_type, digest]
        ).fetchone()
        if row is not None:
            cur.execute(query("zoo_update_report"), [row[0], body, status])
            conn.commit()
            return int(row[0]), str(row[1])
    version = f"{where.profile}.{datetime.now(UTC):%Y%m%d%H%M%S%f}"[:32]
    model_id = register_export(
        conn,
        where.archetype,
        where.model_type,
        version,
        files,
        metrics,
        hidden=hidden_dim(where),
        status=status,
    )
    return model_id, version


def deploy(conn: psycopg.Connection[Any], where: ModelDir, force: bool = False) -> Deployed:
    """Register (if new) and deploy; a refusal below the bar is returned, not raised."""
    model_id, version = register(conn, where)
    try:
        with psycopg.RawCursor(conn) as cur:
            row = cur.execute(query("deploy_model"), [model_id, force]).fetchone()
        conn.commit()
    except psycopg.Error as error:
        conn.rollback()
        if error.sqlstate != "ML013":
            raise
        failed = failed_lines(metrics_of(where)["validation"])
        return Deployed(model_id, version, False, str(error).splitlines()[0], failed)
    assert row is not None
    return Deployed(model_id, version, True, None, list(row[4]))
