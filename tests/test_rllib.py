"""RLlib's algorithms trained on a local Ray (2 CPUs) through the product's training loop: one
short run each, exported by the product's exporter, resumed from a checkpoint, trained from SQL
and served like any actor; a lost env runner is replaced and counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from config.model_types import ACTION_DIMS, COMBAT, PACK_COORDINATION
from models.export.onnx import export_actor
from models.rllib.algorithms import RLLIB_ALGORITHMS, RLlibAlgorithm
from models.training.job import parse_job_config
from models.training.loop import Trainer
from tests.test_training_job import job_row, training_worker
from tests.worker_helpers import (
    collect_decisions,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

pytestmark = pytest.mark.slow

NAMES = ("rllib_appo", "rllib_dqn", "rllib_impala", "rllib_ppo", "rllib_sac")


def tiny(model_type: str = COMBAT, **training: Any) -> dict[str, Any]:
    """Seconds per update on two cores, real in every part (Ray, RLlib, the simulator)."""
    return {
        "training": {
            "model_type": model_type,
            "n_envs": 4,
            "rollout_length": 8,
            "max_steps": 20,
            "total_updates": 2,
            "eval_every": 1,
            "eval_episodes": 8,
            "checkpoint_every": 1,
            **training,
        },
        "algorithm": {"hidden_layers": [16, 16]},
    }


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from models.rllib import cluster

    cluster.connect(num_cpus=2)
    yield
    import ray

    ray.shutdown()


def trainer_for(name: str, raw: dict[str, Any]) -> Trainer:
    config, settings, hyperparameters = parse_job_config(raw, name)
    return Trainer(name, config, settings, hyperparameters=hyperparameters)


@pytest.mark.parametrize("name", NAMES)
def test_each_rllib_algorithm_trains_evaluates_and_exports(
    name: str, local_ray: None, tmp_path: Path
) -> None:
    # IMPALA and APPO learn in a background thread of the learner: their first losses arrive an
    # update or two after the first batch.
    updates = 2 if name in ("rllib_ppo", "rllib_dqn", "rllib_sac") else 5
    trainer = trainer_for(name, tiny(total_updates=updates))
    try:
        history = trainer.train(tmp_path)
        assert [r["update"] for r in history.updates] == [float(u + 1) for u in range(updates)]
        last = history.updates[-1]
        assert last["env_steps"] > 0
        # The learner updated the shared policy.
        assert any("total_loss" in record for record in history.updates)
        assert 0.0 <= last["eval_win_rate"] <= 1.0  # held-out fights, played as served
        exported = export_actor(trainer.algorithm.actor, agreement_samples=512)
        exported.check_thresholds()
        assert exported.action_dim == ACTION_DIMS[COMBAT]
        assert exported.hidden_dim == 0
    finally:
        trainer.algorithm.close()


def test_a_run_resumes_from_its_checkpoint(local_ray: None, tmp_path: Path) -> None:
    """RLlib's whole state (learner, optimizer, env runners' connectors) goes into the product's
    checkpoint; a new trainer on the same directory continues at the next update."""
    trainer = trainer_for("rllib_ppo", tiny(PACK_COORDINATION))
    try:
        trainer.train(tmp_path)
    finally:
        trainer.algorithm.close()
    again = trainer_for("rllib_ppo", tiny(PACK_COORDINATION, total_updates=3))
    try:
        again.train(tmp_path)
        assert [r["update"] for r in again.history.updates] == [1.0, 2.0, 3.0]
        assert again.algorithm.updates == 3
    finally:
        again.algorithm.close()


def test_weights_only_load_puts_the_policy_back(local_ray: None, tmp_path: Path) -> None:
    trainer = trainer_for("rllib_ppo", tiny())
    other = trainer_for("rllib_ppo", tiny(seed=7))
    try:
        trainer.train(tmp_path)
        states = torch.randn(9, 64)
        want = trainer.algorithm.actor(states, None)[0]
        assert not torch.allclose(other.algorithm.actor(states, None)[0], want)
        # The run ended with its best evaluated weights loaded (best.pt), as every run does.
        other.load_checkpoint(tmp_path / "best.pt", weights_only=True)
        assert torch.allclose(other.algorithm.actor(states, None)[0], want, atol=1e-6)
    finally:
        trainer.algorithm.close()
        other.algorithm.close()


def test_a_lost_env_runner_is_replaced_and_counted(local_ray: None) -> None:
    import ray

    raw = tiny(num_env_runners=1, eval_every=0)
    # The curriculum grows the packs every update: the remote runner's fights follow, and the
    # local runner (which has no env when remote ones sample) is passed over.
    raw["advanced"] = {"curriculum_learning": True, "size_increase_interval": 1}
    trainer = trainer_for("rllib_ppo", raw)
    algorithm = trainer.algorithm
    assert isinstance(algorithm, RLlibAlgorithm)
    try:
        trainer.step()
        manager = algorithm.rllib.env_runner_group._worker_manager
        (actor,) = [manager._actors[i] for i in manager.actor_ids()]
        # The runner's process dies (as on a lost node): Ray restarts the actor, RLlib finds it
        # healthy again, restores its weights and state, and sampling goes on.
        ray.kill(actor, no_restart=False)
        before = trainer.env_steps
        records: list[dict[str, float]] = []
        while not records or records[-1]["restarted_env_runners"] < 1:
            assert len(records) < 30, "the env runner was never restarted"
            records.append(trainer.step())
        records.append(trainer.step())
        assert records[-1]["env_steps"] > before
    finally:
        algorithm.close()


def test_the_registry_lists_every_rllib_algorithm() -> None:
    from models.algorithms.registry import ALGORITHMS

    for cls in RLLIB_ALGORITHMS:
        assert ALGORITHMS[cls.info.name] is cls


def test_an_rllib_job_from_sql_trains_registers_and_serves(
    worker_url: str, admin: Any, game: Any, listener: Any, tmp_path: Path
) -> None:
    """INSERT a job naming rllib_ppo: the worker's training runner trains it on a local Ray,
    exports it, registers it; deployed, the worker answers the game server with it."""
    raw = tiny(PACK_COORDINATION, eval_every=0)
    job = admin.execute(
        "SELECT ml.submit_training('tank', 'rllib_ppo', %s::jsonb)", (json.dumps(raw),)
    ).fetchone()[0]
    with training_worker(worker_url, tmp_path):
        assert wait_until(lambda: job_row(admin, job)["status"] in ("done", "failed"), 240)
    row = job_row(admin, job)
    assert row["status"] == "done", row["error"]
    assert row["result"]["algorithm"] == "rllib_ppo"
    model = admin.execute(
        "SELECT archetype, model_type, state_dim, signal_dim, action_dim, hidden_dim, "
        "training_status FROM ml_models WHERE id = %s",
        (row["model_id"],),
    ).fetchone()
    assert model == ("tank", PACK_COORDINATION, 64, 32, 7, 0, "trained")
    # Deployed with an UPDATE, it answers the game server's pack requests through the worker.
    admin.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (row["model_id"],))
    ids = [41, 42, 43]
    sync_pack(game, ids, "tank", map_id=9)
    with worker_process(worker_url):
        request = request_pack(game, ids, "tank")
        (note,) = collect_decisions(listener, {request})[request]
    assert note["status"] == "done", note
    assert [a["monster_id"] for a in note["actions"]] == ids
    assert all(0 <= a["action"] <= 6 for a in note["actions"])
    stored = game.execute("SELECT ml.decision_result(%s)", (request,)).fetchone()[0]
    assert stored["model_version"] == f"job{job}"


def test_an_unreachable_ray_address_fails_the_job_at_once(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    raw = tiny(ray_address="127.0.0.1:9")  # loopback, nothing listens there
    job = admin.execute(
        "SELECT ml.submit_training('tank', 'rllib_ppo', %s::jsonb)", (json.dumps(raw),)
    ).fetchone()[0]
    with training_worker(worker_url, tmp_path):
        assert wait_until(lambda: job_row(admin, job)["status"] == "failed", 60)
    row = job_row(admin, job)
    assert row["attempts"] == 1
    assert "127.0.0.1:9" in row["error"]


def test_an_unknown_rllib_name_is_refused_by_the_database(admin: Any) -> None:
    import psycopg

    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="unknown training algo"):
        admin.execute("SELECT ml.submit_training('tank', 'rllib_a2c', '{}'::jsonb)")


def test_a_gpu_learner_on_a_cluster_without_gpus_is_refused_at_once(local_ray: None) -> None:
    """Rather than RLlib waiting forever for a placement group nobody can grant."""
    from models.rllib.cluster import RayClusterError

    raw = tiny()
    raw["algorithm"]["num_gpus_per_learner"] = 1
    with pytest.raises(RayClusterError, match="GPU"):
        trainer_for("rllib_ppo", raw)
