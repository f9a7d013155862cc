"""A training job from SQL, end to end: config -> MAPPO on the simulator -> verified ONNX export ->
registered in ml_models as 'trained'. The worker's training runner calls `run_training_job`.

The job's `config` jsonb overrides config/ctde_config.yaml section by section and sets the run:

    {"ctde": {"actor": {"hidden_dim": 64}}, "advanced": {"size_increase_interval": 20},
     "training": {"total_updates": 200, "time_budget_s": 300, "n_envs": 64}}

An unknown or mistyped key fails the job at once with the key named (no retry).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import yaml

from models.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    build_dataclass,
    config_from_dict,
)
from models.export.onnx import ExportRejectedError, export_actor
from models.export.registry import register_actor_sync
from models.training.ctde_trainer import CTDETrainer
from models.training.settings import TrainingSettings
from worker.training_runner import (
    ProgressReporter,
    TrainingConfigError,
    TrainingJob,
    TrainingOutcome,
)

JOB_SECTIONS = ("ctde", "advanced", "training")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_job_config(raw: dict[str, Any]) -> tuple[Config, TrainingSettings]:
    """The job's config over the YAML defaults; TrainingConfigError names any bad key."""
    if not isinstance(raw, dict):
        raise TrainingConfigError(f"config must be a JSON object, got {raw!r}")
    unknown = sorted(set(raw) - set(JOB_SECTIONS))
    if unknown:
        raise TrainingConfigError(
            f"unknown config section {', '.join(unknown)} (known: {', '.join(JOB_SECTIONS)})"
        )
    with DEFAULT_CONFIG_PATH.open(encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    overrides = {k: v for k, v in raw.items() if k != "training"}
    try:
        config = config_from_dict(_merge(defaults, overrides))
        settings = build_dataclass(TrainingSettings, raw.get("training", {}), "training")
    except ConfigError as exc:
        raise TrainingConfigError(str(exc)) from None
    return config, settings


def agreement_inputs(trainer: CTDETrainer, rows: int = 4096) -> dict[str, np.ndarray]:
    """Real observations from the simulator for the FP16/INT8 agreement check: random inputs say
    little about how often the reduced files pick the same action on states that occur. Rollouts
    are collected until there are `rows` acting agents (a 1-in-100 disagreement needs thousands of
    rows to be measured, not guessed)."""
    parts: dict[str, list[np.ndarray]] = {"state": [], "signals": [], "hidden": []}
    have = 0
    while have < rows:
        rollout, _, _ = trainer.collect_rollout()
        acting = rollout.agent_mask
        parts["state"].append(rollout.local_obs[acting])
        parts["signals"].append(rollout.signals[acting])
        parts["hidden"].append(rollout.hidden_in[acting])
        have += int(acting.sum())
    feeds = {k: np.concatenate(v)[:rows].astype(np.float32) for k, v in parts.items()}
    if not trainer.actor.use_gru:
        del feeds["hidden"]
    return feeds


def run_training_job(
    job: TrainingJob, report: ProgressReporter, database_url: str
) -> TrainingOutcome:
    """Train, export, verify and register; progress goes to the job's row through `report`."""
    config, settings = parse_job_config(job.config)
    started = time.perf_counter()
    trainer = CTDETrainer(config, settings=settings)
    total = max(settings.total_updates, 1)
    resumed_from = 0
    if (job.checkpoint_dir / "latest.pt").exists():
        resumed_from = int(trainer.load_checkpoint(job.checkpoint_dir / "latest.pt")["step"])

    def progress(step: int, record: dict[str, float]) -> None:
        detail: dict[str, Any] = {k: round(v, 4) for k, v in record.items() if np.isfinite(v)}
        detail["phase"] = "training"
        # Whichever budget runs out first (updates or seconds) says how far along the job is.
        done = step / total
        if settings.time_budget_s:
            done = max(done, (time.perf_counter() - started) / settings.time_budget_s)
        report(0.9 * min(done, 1.0), detail, str(job.checkpoint_dir))

    trainer.train(checkpoint_dir=job.checkpoint_dir, progress=progress)
    report(0.92, {"phase": "evaluating"}, str(job.checkpoint_dir))
    evaluation = trainer.evaluate()
    report(0.95, {"phase": "exporting"}, str(job.checkpoint_dir))
    exported = export_actor(trainer.actor, agreement_inputs=agreement_inputs(trainer))
    try:
        exported.check_thresholds()
    except ExportRejectedError as exc:
        raise RuntimeError(f"the trained actor's export was rejected: {exc}") from exc
    metrics: dict[str, Any] = {
        "eval_win_rate": evaluation.win_rate,
        "eval_coordinated_kills": evaluation.coordinated_kills,
        "eval_pack_survival": evaluation.pack_survival,
        "eval_coordination_score": evaluation.coordination_score,
        "eval_episodes": evaluation.episodes,
        "updates": trainer.training_step,
        "env_steps": trainer.env_steps,
        "resumed_from_update": resumed_from,
        "training_seconds": round(time.perf_counter() - started, 1),
        "training_job_id": job.id,
    }
    archetypes = [job.archetype] + [a for a in settings.register_archetypes if a != job.archetype]
    with psycopg.connect(database_url) as conn:
        model_ids = [
            register_actor_sync(
                conn,
                exported,
                archetype=archetype,
                version=f"job{job.id}",
                model_name=f"CTDE actor ({job.algorithm}, job {job.id})",
                training_status="trained",
                extra_metrics={"training": metrics},
            )
            for archetype in archetypes
        ]
    model_id = model_ids[0]
    metrics["model_ids"] = model_ids
    exported.write(Path(job.checkpoint_dir) / f"{job.archetype}_pack_coordination.onnx")
    return TrainingOutcome(model_id=model_id, result=metrics)
