"""A zoo model trained from SQL: a row of ml_training_jobs whose config names a zoo model type,

    INSERT INTO ml_training_jobs (archetype, config)
    VALUES ('mage', '{"training": {"model_type": "threat_assessment", "profile": "small"}}');

runs the zoo's own pipeline for (archetype, model type) in the job's checkpoint directory: train,
evaluate against the seed's bar, export and verify, register in ml_models (status 'validated'
when the model meets its bar, else 'trained', with its report). Deploying stays the operator's
(ml.deploy_model). The row's `algorithm` is not read: a zoo type's algorithm is its own
(docs/model_zoo.md). `training` keys: model_type, profile, epochs, batch_size, lr, device,
samples_per_archetype, num_episodes, seed, source_archetype (a directory of that archetype's
model beside this one's is not kept between jobs, so transfer is the command line's).
"""

from __future__ import annotations

from typing import Any

import psycopg

from config.training_jobs import (
    ProgressReporter,
    TrainingConfigError,
    TrainingJob,
    TrainingOutcome,
)
from models.zoo import pipeline
from models.zoo.base import ZooSettings
from models.zoo.registry import register
from models.zoo.store import ModelDir
from plpython.zoo_types import ZOO_TYPES

SETTING_KEYS = frozenset(
    {
        "model_type",
        "profile",
        "epochs",
        "batch_size",
        "lr",
        "device",
        "samples_per_archetype",
        "num_episodes",
        "seed",
    }
)


def zoo_model_type(config: Any) -> str | None:
    """The zoo model type a job's config names, else None (a job of the decision models)."""
    training = config.get("training") if isinstance(config, dict) else None
    name = training.get("model_type") if isinstance(training, dict) else None
    return name if isinstance(name, str) and name in ZOO_TYPES else None


def zoo_settings(config: dict[str, Any]) -> ZooSettings:
    unknown = sorted(set(config) - {"training"})
    training = config["training"]
    unknown += sorted(f"training.{k}" for k in set(training) - SETTING_KEYS)
    if unknown:
        raise TrainingConfigError(f"a zoo training job does not take {', '.join(unknown)}")
    values = {k: v for k, v in training.items() if k != "model_type"}
    try:
        return ZooSettings(**values)
    except (TypeError, ValueError) as error:
        raise TrainingConfigError(f"zoo training settings: {error}") from error


def run_zoo_job(job: TrainingJob, report: ProgressReporter, database_url: str) -> TrainingOutcome:
    model_type = zoo_model_type(job.config)
    assert model_type is not None
    settings = zoo_settings(job.config)
    where = ModelDir(job.checkpoint_dir, settings.profile, job.archetype, model_type)
    report(0.05, {"phase": "training", "model_type": model_type}, str(job.checkpoint_dir))
    trained = pipeline.train(where, settings)
    report(0.7, {"phase": "evaluating"}, str(job.checkpoint_dir))
    validation = pipeline.evaluate(where, settings)
    report(0.85, {"phase": "exporting"}, str(job.checkpoint_dir))
    exported = pipeline.export(where, settings)
    with psycopg.connect(database_url) as conn:
        model_id, version = register(conn, where)
    result = {
        "model_type": model_type,
        "profile": settings.profile,
        "version": version,
        "training_seconds": round(trained.seconds, 1),
        "samples": trained.samples,
        "passed": validation["passed"],
        "failed": [c["line"] for c in validation["criteria"] if not c["passed"]],
        "files": {p: len(b) for p, b in exported.files.items()},
    }
    return TrainingOutcome(model_id=model_id, result=result)
