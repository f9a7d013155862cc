"""What the training runner (worker/) and the trainer (models/) say to each other about one job.

The runner claims a row of ml_training_jobs, builds a `TrainingJob`, and calls the trainer entry
named in its settings (by default models.training.job:run_training_job) with a `ProgressReporter`;
the trainer answers a `TrainingOutcome` or raises one of the two errors below. Both sides import
these types from here, so neither imports the other (the runner loads the trainer by name, in its
own process, and never needs torch to start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class TrainingConfigError(ValueError):
    """The job's config is wrong: the job fails at once with this message, without retries."""


class TrainingStoppedError(RuntimeError):
    """The job was cancelled, taken away, or the runner is shutting down."""


@dataclass(frozen=True)
class TrainingJob:
    """One claimed row of ml_training_jobs."""

    id: int
    archetype: str
    algorithm: str
    config: dict[str, Any]
    attempts: int
    max_attempts: int
    checkpoint_dir: Path


@dataclass(frozen=True)
class TrainingOutcome:
    """A finished job: the registered model (if any) and the result jsonb."""

    model_id: int | None
    result: dict[str, Any] = field(default_factory=dict)


class ProgressReporter(Protocol):
    """Writes the job's progress (0..1), a detail object and its checkpoint directory to its row;
    raises TrainingStoppedError once the job is no longer the runner's to train."""

    def __call__(
        self, fraction: float, detail: dict[str, Any], checkpoint_dir: str | None = None
    ) -> None: ...


class TrainingEntry(Protocol):
    """The trainer's entry point, as the runner calls it."""

    def __call__(
        self, job: TrainingJob, report: ProgressReporter, database_url: str
    ) -> TrainingOutcome: ...
