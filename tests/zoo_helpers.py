"""A zoo model in the registry without the pipeline's files: an untrained tiny model of a type,
exported by the real exporter and deployed (no validation report: the guard lets it through)."""

from __future__ import annotations

import psycopg

from models.zoo.export import export_model
from models.zoo.pipeline import task
from models.zoo.registry import register_export
from plpython.zoo_types import ZOO_TYPES


def deploy_untrained_zoo(
    db_url: str, archetype: str, model_type: str, version: str, profile: str = "tiny"
) -> int:
    """Registers and deploys an untrained `model_type` (not recurrent) for `archetype`."""
    spec = ZOO_TYPES[model_type]
    assert not spec.recurrent
    the_task = task(model_type)
    exported = export_model(
        spec, the_task.build(archetype, profile), the_task.example_inputs(archetype, 64, 0)
    )
    with psycopg.connect(db_url) as conn:
        model_id = register_export(conn, archetype, model_type, version, exported.files, {})
        conn.execute("UPDATE ml.ml_models SET is_deployed = true WHERE id = %s", (model_id,))
    return model_id
