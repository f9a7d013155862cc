"""Training jobs from SQL: the runner process trains on the simulator, exports, verifies and
registers; bad configs fail with the key named; a job killed midway resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config.training_jobs import TrainingConfigError
from models.training.job import parse_job_config
from tests.worker_helpers import REPO, wait_until

#: Small enough to finish in seconds on two cores, real in every step (simulator, MAPPO, export).
TINY: dict[str, Any] = {
    "ctde": {
        "actor": {"hidden_dim": 16, "dropout": 0.0},
        "critic": {"hidden_dims": [32, 32], "dropout": 0.0},
        "n_epochs": 1,
    },
    "training": {
        "n_envs": 8,
        "rollout_length": 8,
        "total_updates": 3,
        "eval_every": 0,
        "eval_episodes": 16,
        "checkpoint_every": 1,
        "chunk_length": 4,
    },
}


@contextmanager
def training_worker(
    worker_url: str, runs_dir: Path, lease_s: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.update(
        WORKER_DATABASE_URL=worker_url,
        RAGNAROK_RUNS_DIR=str(runs_dir),
        RAGNAROK_TRAINING_LEASE_S=str(lease_s),
        RAGNAROK_WORKER_POLL_S="0.2",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
        start_new_session=True,  # its own process group: the runner child goes down with it
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def job_row(admin: psycopg.Connection[Any], job_id: int) -> dict[str, Any]:
    cur = admin.execute(
        "SELECT status, progress, progress_detail, attempts, error, model_id, result "
        "FROM ml_training_jobs WHERE id = %s",
        (job_id,),
    )
    names = [d.name for d in cur.description or []]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def test_unknown_key_in_job_config_names_it() -> None:
    with pytest.raises(TrainingConfigError, match=r"training\.n_env"):
        parse_job_config({"training": {"n_env": 8}})
    with pytest.raises(TrainingConfigError, match=r"ctde\.actor\.hidden_dim"):
        parse_job_config({"ctde": {"actor": {"hidden_dim": "wide"}}})
    with pytest.raises(TrainingConfigError, match="unknown config section"):
        parse_job_config({"optimizer": {}})


def test_model_type_shapes_the_actor_and_a_contradiction_is_refused() -> None:
    """A combat job gets 11 actions (the 10 primitives and DEFER), no GRU, no signals (a gateway
    request carries neither a monster instance nor signals); the pack actor keeps 7 actions; the
    contract simulator is the default environment. A job that contradicts its model type fails
    with the key named."""
    config, settings, _ = parse_job_config({"training": {"model_type": "combat"}})
    assert (settings.environment, settings.model_type) == ("contract", "combat")
    c = config.ctde
    assert (c.action_dim, c.actor.use_gru, c.inference.use_signals) == (11, False, False)
    config, settings, _ = parse_job_config({})
    assert (settings.environment, settings.model_type, config.ctde.action_dim) == (
        "contract",
        "pack_coordination",
        7,
    )
    bad: list[tuple[dict[str, Any], str]] = [
        ({"training": {"model_type": "combat"}, "ctde": {"actor": {"use_gru": True}}}, "use_gru"),
        (
            {"training": {"model_type": "combat"}, "ctde": {"action_dim": 7}},
            "action_dim must be 11",
        ),
        ({"ctde": {"action_dim": 11}}, "action_dim must be 7"),
        ({"training": {"model_type": "combat", "environment": "pack"}}, "must be 'contract'"),
        ({"training": {"environment": "arena"}}, "training.environment must be one of"),
        ({"training": {"model_type": "boss"}}, "training.model_type must be one of"),
    ]
    for raw, message in bad:
        with pytest.raises(TrainingConfigError, match=message):
            parse_job_config(raw)


def test_combat_job_registers_an_eleven_output_model_without_recurrent_state(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    """The legacy gateway's policy from SQL: trained on the contract simulator's ten primitives
    and DEFER, registered as model type 'combat' with 11 outputs and no hidden state."""
    config = {**TINY, "training": {**TINY["training"], "model_type": "combat"}}
    job = admin.execute(
        "SELECT ml.submit_training('mage', 'mappo', %s::jsonb)", (json.dumps(config),)
    ).fetchone()[0]
    with training_worker(worker_url, tmp_path):
        assert wait_until(lambda: job_row(admin, job)["status"] in ("done", "failed"), 240)
    row = job_row(admin, job)
    assert row["status"] == "done", row["error"]
    model = admin.execute(
        "SELECT archetype, model_type, state_dim, signal_dim, action_dim, hidden_dim "
        "FROM ml_models WHERE id = %s",
        (row["model_id"],),
    ).fetchone()
    assert model == ("mage", "combat", 64, 32, 11, 0)
    assert list(tmp_path.glob("job_*/mage_combat.onnx"))


def test_training_job_from_sql_registers_a_trained_deployable_actor(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    job = admin.execute(
        "INSERT INTO ml_training_jobs (archetype, algorithm, config) VALUES ('tank', 'mappo', %s) "
        "RETURNING id",
        (json.dumps(TINY),),
    ).fetchone()[0]
    with psycopg.connect(worker_url, autocommit=True) as listener:
        listener.execute("LISTEN ml_training")
        with training_worker(worker_url, tmp_path):
            assert wait_until(lambda: job_row(admin, job)["status"] == "done", timeout_s=240)
        notes = [json.loads(n.payload) for n in listener.notifies(timeout=0.5, stop_after=100)]
    row = job_row(admin, job)
    assert row["progress"] == 1.0
    assert row["result"]["updates"] == 3
    progress = [n for n in notes if n.get("job_id") == job and "progress" in n]
    assert len(progress) >= 3  # starting, every update, evaluating, exporting
    assert [n["status"] for n in notes if n.get("job_id") == job and "status" in n] == ["done"]
    model = admin.execute(
        "SELECT archetype, training_status, is_deployed, octet_length(onnx_fp32) > 0, "
        "metrics -> 'training' ->> 'training_job_id' FROM ml_models WHERE id = %s",
        (row["model_id"],),
    ).fetchone()
    assert model == ("tank", "trained", False, True, str(job))
    # Deploying is then one UPDATE.
    admin.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (row["model_id"],))
    deployed = admin.execute("SELECT id FROM ml.deployed_models").fetchall()
    assert deployed == [(row["model_id"],)]
    assert list(tmp_path.glob("job_*/training_progress.csv"))
    # The run folder ends with an export folder that says how it was deployed.
    (export,) = tmp_path.glob("job_*/export")
    meta = json.loads((export / "metadata.json").read_text())
    assert meta["registration"]["model_ids"] == [row["model_id"]]
    assert meta["updates"] == 3
    assert (
        f"UPDATE ml_models SET is_deployed = true WHERE version = 'job{job}';"
        in (export / "README.txt").read_text()
    )


def test_bad_config_fails_at_once_with_the_error_in_the_row(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    job = admin.execute(
        "SELECT ml.submit_training('tank', 'mappo', %s::jsonb)",
        (json.dumps({"training": {"total_updates": "many"}}),),
    ).fetchone()[0]
    with training_worker(worker_url, tmp_path):
        assert wait_until(lambda: job_row(admin, job)["status"] == "failed", timeout_s=60)
    row = job_row(admin, job)
    assert row["attempts"] == 1
    assert "training.total_updates" in row["error"]
    assert "expected an integer" in row["error"]


def test_submit_training_rejects_unknown_archetype_and_algorithm(admin: Any) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="unknown archetype 'elf'"):
        admin.execute("SELECT ml.submit_training('elf')")
    with pytest.raises(
        psycopg.errors.InvalidTextRepresentation, match="unknown training algorithm"
    ):
        admin.execute("SELECT ml.submit_training('tank', 'dqn')")


def test_job_killed_midway_resumes_from_its_checkpoint(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    config = json.loads(json.dumps(TINY))
    config["training"]["total_updates"] = 8
    job = admin.execute(
        "INSERT INTO ml_training_jobs (archetype, config) VALUES ('mage', %s) RETURNING id",
        (json.dumps(config),),
    ).fetchone()[0]
    with training_worker(worker_url, tmp_path, lease_s=2.0) as doomed:
        assert wait_until(
            lambda: job_row(admin, job)["progress_detail"].get("update", 0) >= 3, timeout_s=180
        )
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole machine is gone: worker and runner
        doomed.wait()
    assert job_row(admin, job)["status"] == "running"
    with training_worker(worker_url, tmp_path, lease_s=2.0):
        assert wait_until(lambda: job_row(admin, job)["status"] == "done", timeout_s=240)
    row = job_row(admin, job)
    assert row["attempts"] == 2
    assert row["result"]["resumed_from_update"] >= 3
    assert row["result"]["updates"] == 8
