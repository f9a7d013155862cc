"""Worker settings: typed, with a reason for each default."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process behaves."""

    database_url: str
    """Where the queue is, as the ml_worker role."""
    worker_id: str = field(default_factory=_default_worker_id)
    """Unique per process: claims, heartbeats and the exactly-once check key on it."""
    max_jobs_per_round: int = 512
    """Jobs claimed in one statement; one ONNX call per model covers all of them."""
    poll_interval_s: float = 0.5
    """Backstop poll: NOTIFY wakes the worker at once, but notifications sent while it was
    disconnected are lost, so it also looks at the queue this often."""
    heartbeat_interval_s: float = 0.5
    """How often the worker stamps itself and the jobs it holds."""
    lease_s: float = 3.0
    """A running job whose heartbeat is older than this is re-queued by any worker (its worker is
    presumed dead). Several heartbeats long so that a busy worker never loses a live job."""
    rescue_interval_s: float = 1.0
    """How often this worker looks for jobs abandoned by dead workers."""
    reconnect_backoff_s: float = 0.2
    """First wait before reconnecting after the database went away (doubles up to 5 s)."""
    intra_op_threads: int = 1
    """ONNX Runtime threads per session: small actors gain nothing from more, and the database
    shares the machine."""
    prefer_gpu: bool = True
    """Use the CUDA execution provider when ONNX Runtime offers it."""
    run_training: bool = True
    """Start the training runner process beside the inference loop."""
    training_lease_s: float = 30.0
    """A training job whose runner has not stamped it for this long is re-queued (and resumes
    from its last checkpoint)."""
    runs_dir: str = "runs/training"
    """Where training jobs keep checkpoints, CSV progress and TensorBoard logs."""


def settings_from_env(database_url: str) -> WorkerSettings:
    """Settings with overrides from RAGNAROK_WORKER_* environment variables."""
    env = os.environ
    return WorkerSettings(
        database_url=database_url,
        worker_id=env.get("RAGNAROK_WORKER_ID") or _default_worker_id(),
        lease_s=float(env.get("RAGNAROK_WORKER_LEASE_S", "3.0")),
        poll_interval_s=float(env.get("RAGNAROK_WORKER_POLL_S", "0.5")),
        prefer_gpu=env.get("RAGNAROK_WORKER_CPU_ONLY", "") == "",
        run_training=env.get("RAGNAROK_WORKER_NO_TRAINING", "") == "",
        training_lease_s=float(env.get("RAGNAROK_TRAINING_LEASE_S", "30.0")),
        runs_dir=env.get("RAGNAROK_RUNS_DIR", "runs/training"),
    )
