"""A training job from SQL, end to end: config -> the job's algorithm on the simulator -> verified
ONNX export -> registered in ml_models as 'trained'. The worker's training runner calls
`run_training_job`. The job's checkpoint directory is the run folder (models/training/loop.py:
latest.pt, which a retried job resumes from, checkpoints/, training_progress.csv) and ends with an
export folder, export/ (the ONNX files, metadata.json and README.txt with the deploy statement;
models/training/export_folder.py).

The row's `algorithm` names one of models.algorithms.registry.ALGORITHMS (mappo, ippo, qmix, ...).
Its `config` jsonb overrides config/ctde_config.yaml section by section, sets the run, and gives the
algorithm's own hyper-parameters:

    {"ctde": {"actor": {"hidden_dim": 64}}, "advanced": {"size_increase_interval": 20},
     "training": {"total_updates": 200, "time_budget_s": 300, "n_envs": 64},
     "algorithm": {"epsilon_anneal_steps": 50000}}

`training.environment` is "contract" (the game server's state contract, the default) or "pack"
(the older simulator, for reference); `training.model_type` is "pack_coordination" (the pack actor,
7 pack actions) or "combat" (the legacy gateway's policy over the 10 executable actions and DEFER,
without GRU or signals; config/model_types.py). The model type sets ctde.action_dim (7 or 11)
unless the job sets it, and the
trained actor is registered under that model type.

An unknown or mistyped key fails the job at once with the key named (no retry).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import yaml

from config.model_types import ACTION_DIMS, COMBAT, GATEWAY_TYPES, PACK_COORDINATION
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
from models.offline.dataset import attach_recorded_experience
from models.training.export_folder import write_export_folder
from models.training.loop import Trainer, check_model_type
from models.training.settings import TrainingSettings
from models.zoo.job import run_zoo_job, zoo_model_type

JOB_SECTIONS = ("ctde", "advanced", "training", "algorithm")
MODEL_NAMES = {PACK_COORDINATION: "pack actor", COMBAT: "combat policy"}


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
        settings = build_dataclass(TrainingSettings, raw.get("training", {}), "training")
        # The model type's own shape first (its action count; a combat actor without GRU or
        # signals), then the job's overrides: one that contradicts it is refused below.
        shaped = _merge(defaults, model_type_defaults(settings.model_type))
        config = config_from_dict(_merge(shaped, overrides))
        check_model_type(config, settings)
        hyperparameters = build_dataclass(
            cls.Hyperparameters, raw.get("algorithm", {}), "algorithm"
        )
    except ValueError as exc:  # ConfigError, or a hyper-parameter's own range check
        raise TrainingConfigError(str(exc)) from None
    return config, settings, hyperparameters


def command_job_config(args: Any, training_flags: dict[str, str]) -> dict[str, Any]:
    """A command's job config (python -m models.training, models.rllib.tune): `args.config` (a
    JSON object, or a file holding one) with the command's flags over its "training" keys
    (`training_flags`: argument name -> training key; a flag left unset, None, changes nothing).
    TrainingConfigError when --config is not a JSON object."""
    raw: Any = {}
    if args.config:
        text = args.config
        if not text.lstrip().startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TrainingConfigError(f"--config must be a JSON object, got {raw!r}")
    training = dict(raw.get("training", {}))
    for flag, key in training_flags.items():
        value = getattr(args, flag)
        if value is not None:
            training[key] = value
    return {**raw, "training": training}


def model_type_defaults(model_type: str) -> dict[str, Any]:
    """The config a model type implies: its action count; a combat actor answers a gateway
    request, which carries no signals and names no monster instance (no recurrent state)."""
    ctde: dict[str, Any] = {"action_dim": ACTION_DIMS[model_type]}
    if model_type in GATEWAY_TYPES:
        ctde["actor"] = {"use_gru": False}
        ctde["inference"] = {"use_signals": False}
    return {"ctde": ctde}


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
    if zoo_model_type(job.config) is not None:  # one of the zoo's nine (docs/model_zoo.md)
        return run_zoo_job(job, report, database_url)
    config, settings, hyperparameters = parse_job_config(job.config, job.algorithm)
    started = time.perf_counter()
    trainer = Trainer(job.algorithm, config, settings, hyperparameters=hyperparameters)
    if trainer.algorithm.info.offline:
        # Learns from what the game server recorded (docs/offline.md); none: TrainingConfigError.
        attach_recorded_experience(
            trainer.algorithm, database_url, job.archetype, settings.model_type
        )
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
                model_name=f"{MODEL_NAMES[settings.model_type]} ({job.algorithm}, job {job.id})",
                model_type=settings.model_type,
                training_status="trained",
                extra_metrics={"training": metrics},
            )
            for archetype in archetypes
        ]
    model_id = model_ids[0]
    metrics["model_ids"] = model_ids
    exported.write(Path(job.checkpoint_dir) / f"{job.archetype}_{settings.model_type}.onnx")
    write_export_folder(
        trainer,
        exported,
        Path(job.checkpoint_dir) / "export",
        evaluation=evaluation,
        registration={
            "version": f"job{job.id}",
            "archetypes": archetypes,
            "model_ids": model_ids,
            "training_status": "trained",
        },
        extra={"training": metrics},
    )
    return TrainingOutcome(model_id=model_id, result=metrics)
