"""The training runner: a separate process that claims training jobs, runs the trainer, reports
progress in the job's row (NOTIFY ml_training), and registers what it trained.

Training is CPU-heavy and long, so it never shares a process (or a GIL) with the inference loop: the
decision latency does not move while a model trains. A job killed midway (runner killed, machine
lost) is rescued after its lease and resumes from its last checkpoint when retried.
"""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import psycopg

from config.queries import connect_raw, query
from config.training_jobs import (
    ProgressReporter,
    TrainingConfigError,
    TrainingEntry,
    TrainingJob,
    TrainingOutcome,
    TrainingStoppedError,
)

log = logging.getLogger("worker.training")

__all__ = [
    "ProgressReporter",
    "RunnerSettings",
    "TrainingConfigError",
    "TrainingJob",
    "TrainingOutcome",
    "TrainingStoppedError",
    "start_runner_process",
]

DEFAULT_TRAINER = "models.training.job:run_training_job"


def resolve_trainer(path: str) -> TrainingEntry:
    module_name, _, attribute = path.partition(":")
    trainer: TrainingEntry = getattr(importlib.import_module(module_name), attribute)
    return trainer


class JobReporter:
    """Writes progress into the job's row; raises TrainingStoppedError once the job is not ours."""

    def __init__(
        self, conn: psycopg.Connection[Any], job: TrainingJob, worker_id: str, stop: EventType
    ) -> None:
        self.conn, self.job, self.worker_id, self.stop = conn, job, worker_id, stop
        self.lost = threading.Event()

    def __call__(
        self, fraction: float, detail: dict[str, Any], checkpoint_dir: str | None = None
    ) -> None:
        row = self.conn.execute(
            query("training_progress").encode(),
            (
                self.job.id,
                self.worker_id,
                min(max(fraction, 0.0), 1.0),
                json.dumps(detail),
                checkpoint_dir,
            ),
        ).fetchone()
        if row is None or self.lost.is_set():
            raise TrainingStoppedError(f"training job {self.job.id} was cancelled or taken over")
        if self.stop.is_set():
            raise TrainingStoppedError(
                "the runner is shutting down; the job resumes from its checkpoint"
            )


def _heartbeat(url: str, reporter: JobReporter, done: threading.Event, every_s: float) -> None:
    """Stamp the job between progress reports (an epoch can take longer than the lease)."""
    with connect_raw(url, autocommit=True) as conn:
        while not done.wait(every_s):
            row = conn.execute(
                query("training_heartbeat").encode(), (reporter.job.id, reporter.worker_id)
            ).fetchone()
            if row is None:
                reporter.lost.set()
                return


@dataclass(frozen=True)
class RunnerSettings:
    database_url: str
    worker_id: str
    trainer: str = DEFAULT_TRAINER
    runs_dir: Path = Path("runs/training")
    poll_interval_s: float = 2.0
    heartbeat_interval_s: float = 2.0
    lease_s: float = 30.0


def run_one(
    conn: psycopg.Connection[Any],
    settings: RunnerSettings,
    row: tuple[Any, ...],
    trainer: TrainingEntry,
    stop: EventType,
) -> str:
    job_id, archetype, algorithm, config, attempts, max_attempts, checkpoint_dir = row
    job = TrainingJob(
        id=job_id,
        archetype=archetype,
        algorithm=algorithm,
        config=config if isinstance(config, dict) else {},
        attempts=attempts,
        max_attempts=max_attempts,
        # A new job gets a directory no other job (in any database) has used; a retry finds the
        # one its first attempt recorded on the row, and resumes from the checkpoint in it.
        checkpoint_dir=Path(
            checkpoint_dir or settings.runs_dir / f"job_{job_id}_{uuid.uuid4().hex[:8]}"
        ),
    )
    reporter = JobReporter(conn, job, settings.worker_id, stop)
    done = threading.Event()
    beat = threading.Thread(
        target=_heartbeat,
        args=(settings.database_url, reporter, done, settings.heartbeat_interval_s),
        daemon=True,
    )
    beat.start()
    status, result, error, model_id = "failed", None, None, None
    try:
        reporter(0.0, {"phase": "starting", "attempt": attempts}, str(job.checkpoint_dir))
        outcome = trainer(job, reporter, settings.database_url)
        status, model_id, result = "done", outcome.model_id, json.dumps(outcome.result)
    except TrainingConfigError as exc:
        error = f"config error: {exc}"
    except TrainingStoppedError as exc:
        status, error = "pending", str(exc)
    except Exception as exc:  # any trainer failure is the job's, never the runner's
        log.exception("training job %s failed", job_id)
        status, error = "pending", f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
        beat.join()
        release_ray()
    conn.execute(
        query("finish_training_job").encode(),
        (job_id, settings.worker_id, status, result, error, model_id),
    )
    return status


def release_ray() -> None:
    """A job that trained on Ray leaves its env runners and learner (and, on a local Ray, the
    cluster's own processes) behind in this long-lived process: they go with the job, whatever
    its end, so the next job starts on a clean cluster and an idle runner holds no cores. Leaving
    a remote cluster ends only this driver's actors there."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


class ParentWatch:
    """Sets `stop` when the worker that started this runner is gone (killed with SIGKILL, it could
    not say so): an orphaned runner must not go on training under a dead worker's name."""

    def __init__(self, stop: EventType) -> None:
        self.parent = os.getppid()
        self.stop = stop

    def check(self) -> bool:
        if os.getppid() != self.parent:
            self.stop.set()
        return self.stop.is_set()


def runner_loop(settings: RunnerSettings, stop: EventType) -> None:
    """Claim and run training jobs until `stop` is set (the body of the runner process)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    trainer = resolve_trainer(settings.trainer)
    threading.Thread(target=_watch_parent, args=(ParentWatch(stop),), daemon=True).start()
    while not stop.is_set():
        try:
            with connect_raw(settings.database_url, autocommit=True) as conn:
                conn.execute(b"LISTEN ml_training")
                while not stop.is_set():
                    conn.execute(query("rescue_training_jobs").encode(), (settings.lease_s,))
                    row = conn.execute(
                        query("claim_training_job").encode(), (settings.worker_id,)
                    ).fetchone()
                    if row is not None:
                        status = run_one(conn, settings, row, trainer, stop)
                        log.info("training job %s: %s", row[0], status)
                        continue
                    for _ in conn.notifies(timeout=settings.poll_interval_s, stop_after=1):
                        pass
        except psycopg.OperationalError as exc:
            log.warning("training runner lost the database (%s); reconnecting", exc)
            time.sleep(1.0)


def _watch_parent(watch: ParentWatch) -> None:
    while not watch.check():
        time.sleep(0.5)


def start_runner_process(
    settings: RunnerSettings,
) -> tuple[multiprocessing.process.BaseProcess, Callable[[], None]]:
    """Start the runner in its own process; returns it and a function that stops it."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=runner_loop, args=(settings, stop), name="training-runner")
    process.start()

    def stop_runner() -> None:
        stop.set()
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)

    return process, stop_runner
