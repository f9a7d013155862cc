"""A zoo model in the registry without the pipeline's files: an untrained tiny model of a type,
exported by the real exporter and deployed (no validation report: the guard lets it through)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from config.queries import query
from models.zoo.export import export_model
from models.zoo.pipeline import task
from plpython.zoo_types import ZOO_TYPES


def deploy_untrained_zoo(db_url: str, archetype: str, model_type: str, version: str) -> int:
    """Registers and deploys an untrained tiny `model_type` (not recurrent) for `archetype`."""
    spec = ZOO_TYPES[model_type]
    assert not spec.recurrent
    the_task = task(model_type)
    exported = export_model(
        spec, the_task.build(archetype, "tiny"), the_task.example_inputs(archetype, 64, 0)
    )
    files: dict[str, Any] = exported.files
    params = [
        archetype, model_type, f"untrained {model_type}", version, model_type, "trained",
        files["fp32"], files.get("fp16"), files.get("int8"), exported.report["fp32"]["sha256"],
        spec.input_dim, 0, spec.output_dim, 0, json.dumps({}),
    ]  # fmt: skip
    with psycopg.connect(db_url) as conn, psycopg.RawCursor(conn) as cur:
        row = cur.execute(query("register_model"), params).fetchone()
        assert row is not None
        cur.execute("UPDATE ml.ml_models SET is_deployed = true WHERE id = $1", [row[0]])
    return int(row[0])
