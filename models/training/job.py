"""A training job from SQL, end to end: config -> the job's algorithm on the simulator -> verified
ONNX export -> registered in ml_models as 'trained'. The worker's training runner calls
`run_training_job`.

The row's `algorithm` names one of models.algorithms.registry.ALGORITHMS (mappo, ippo, qmix, ...).
Its `config` jsonb overrides config/ctde_config.yaml section by section, sets the run, and gives the
algorithm's own hyper-parameters:

    {"ctde": {"actor": {"hidden_dim": 64}}, "advanced": {"size_increase_interval": 20},
     "training": {"total_updates": 200, "time_budget_s": 300, "n_envs": 64},
     "algorithm": {"epsilon_anneal_steps": 50000}}

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

from config.training_jobs import (
    ProgressReporter,
    TrainingConfigError,
    TrainingJob,
    TrainingOutcome,
)
from models.algorithms.base import ActorPolicy, Algorithm
from models.algorithms.registry import UnknownAlgorithmError, algorithm_class
from models.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    build_dataclass,
    config_from_dict,
)
from models.envs.base import Observation
from models.export.onnx import ExportRejectedError, export_actor
from models.export.registry import register_actor_sync
from models.training.loop import Trainer
from models.training.settings import TrainingSettings

JOB_SECTIONS = ("ctde", "advanced", "training", "algorithm")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_job_config(
    raw: dict[str, Any], algorithm: str = "mappo"
) -> tuple[Config, TrainingSettings, Any]:
    """The job's config over the YAML defaults, its run settings and the algorithm's typed
    hyper-parameters; TrainingConfigError names any bad key or an unknown algorithm."""
    if not isinstance(raw, dict):
        raise TrainingConfigError(f"config must be a JSON object, got {raw!r}")
    unknown = sorted(set(raw) - set(JOB_SECTIONS))
    if unknown:
        raise TrainingConfigError(
            f"unknown config section {', '.join(unknown)} (known: {', '.join(JOB_SECTIONS)})"
        )
    try:
        cls = algorithm_class(algorithm)
    except UnknownAlgorithmError as exc:
        raise TrainingConfigError(str(exc)) from None
    with DEFAULT_CONFIG_PATH.open(encoding="utf-8") as f:
        defaults = yaml.safe_load(f)
    overrides = {k: v for k, v in raw.items() if k not in ("training", "algorithm")}
    try:
        config = config_from_dict(_merge(defaults, overrides))
        settings = build_dataclass(TrainingSettings, raw.get("training", {}), "training")
        hyperparameters = build_dataclass(
            cls.Hyperparameters, raw.get("algorithm", {}), "algorithm"
        )
    except ValueError as exc:  # ConfigError, or a hyper-parameter's own range check
        raise TrainingConfigError(str(exc)) from None
    return config, settings, hyperparameters


class RecordingPolicy(ActorPolicy):
    """The actor sampling as in training, keeping every acting agent's inputs (state, signals and
    the GRU state it was fed): what the exported files are compared on."""

    def __init__(self, algorithm: Algorithm) -> None:
        super().__init__(
            algorithm.actor, algorithm.config.ctde.inference.use_signals, deterministic=False
        )
        self.feeds: dict[str, list[np.ndarray]] = {"state": [], "signals": [], "hidden": []}

    def __call__(self, obs: Observation) -> np.ndarray:
        E, N = obs.agent_mask.shape
        acting = obs.agent_mask.reshape(E * N)
        if self.hidden is not None:
            self.feeds["hidden"].append(self.hidden.cpu().numpy()[acting])
        elif self.actor.use_gru:
            self.feeds["hidden"].append(np.zeros((int(acting.sum()), self.actor.hidden_dim)))
        self.feeds["state"].append(obs.local_obs.reshape(E * N, -1)[acting])
        self.feeds["signals"].append(obs.signals.reshape(E * N, -1)[acting])
        return super().__call__(obs)

    def rows(self) -> int:
        return sum(len(part) for part in self.feeds["state"])


def agreement_inputs(trainer: Trainer, rows: int = 4096) -> dict[str, np.ndarray]:
    """Real observations for the FP16/INT8 agreement check: random inputs say little about how
    often the reduced files pick the same action on states that occur. The trained actor plays
    fresh environments (seeds apart from training and evaluation) until `rows` agents have acted
    (a 1-in-100 disagreement needs thousands of rows to be measured, not guessed)."""
    policy = RecordingPolicy(trainer.algorithm)
    env = trainer.make_env(trainer.settings.n_envs, trainer.settings.eval_seed + 500_000)
    obs = env.reset()
    while policy.rows() < rows:
        obs, _ = env.step(policy(obs))
    feeds = {k: np.concatenate(v)[:rows].astype(np.float32) for k, v in policy.feeds.items() if v}
    if not trainer.algorithm.actor.use_gru:
        feeds.pop("hidden", None)
    return feeds


def run_training_job(
    job: TrainingJob, report: ProgressReporter, database_url: str
) -> TrainingOutcome:
    """Train, export, verify and register; progress goes to the job's row through `report`."""
    config, settings, hyperparameters = parse_job_config(job.config, job.algorithm)
    started = time.perf_counter()
    trainer = Trainer(job.algorithm, config, settings, hyperparameters=hyperparameters)
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
    exported = export_actor(trainer.algorithm.actor, agreement_inputs=agreement_inputs(trainer))
    try:
        exported.check_thresholds()
    except ExportRejectedError as exc:
        raise RuntimeError(f"the trained actor's export was rejected: {exc}") from exc
    metrics: dict[str, Any] = {
        "algorithm": job.algorithm,
        **{f"eval_{k}": v for k, v in evaluation.items()},
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
                model_name=f"pack actor ({job.algorithm}, job {job.id})",
                training_status="trained",
                extra_metrics={"training": metrics},
            )
            for archetype in archetypes
        ]
    model_id = model_ids[0]
    metrics["model_ids"] = model_ids
    exported.write(Path(job.checkpoint_dir) / f"{job.archetype}_pack_coordination.onnx")
    return TrainingOutcome(model_id=model_id, result=metrics)
