"""The algorithm registry's contract, for every algorithm in ALGORITHMS: it trains (on the pack
simulator and on a PettingZoo env), resumes exactly from a checkpoint, exports a deployable actor
that ONNX Runtime computes as torch does, registers and reads back, and trains from SQL. The
database accepts exactly the registry's names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import torch

from config.training_jobs import TrainingConfigError
from models.algorithms.registry import ALGORITHMS, UnknownAlgorithmError, algorithm_class
from models.config import ConfigError, config_from_dict, default_config
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.pettingzoo import PettingZooVecEnv
from models.export.onnx import export_actor
from models.export.registry import fetch_onnx_sync, register_actor_sync
from models.offline.dataset import OfflineLearner, play_transitions
from models.rllib.algorithms import RLlibAlgorithm
from models.training.job import parse_job_config
from models.training.loop import Trainer
from models.training.settings import TrainingSettings
from tests.test_experience import experience_args, record_experience
from tests.test_training_job import TINY, job_row, training_worker
from tests.worker_helpers import (
    collect_decisions,
    request_pack,
    sync_pack,
    wait_until,
    worker_process,
)

#: The in-house algorithms: they train on any MultiAgentEnv (the pack simulator, PettingZoo) and
#: resume bit-exactly. RLlib's train on the contract simulator through RLlib's own env runners, in
#: Ray's processes: tests/test_rllib.py holds their contract.
NAMES = sorted(n for n, cls in ALGORITHMS.items() if not issubclass(cls, RLlibAlgorithm))

#: Small networks, so that two updates of any algorithm take about a second.
CONFIG = {
    "ctde": {
        "actor": {"hidden_dim": 16, "dropout": 0.0},
        "critic": {"hidden_dims": [16, 16], "dropout": 0.0, "n_heads": 2},
        "n_epochs": 1,
    },
    "advanced": {"size_increase_interval": 1},
}
#: Off-policy algorithms learn from the first batch they can sample.
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "qmix": {"batch_episodes": 2, "buffer_episodes": 16},
    "vdn": {"batch_episodes": 2, "buffer_episodes": 16},
    "maddpg": {"batch_size": 32, "buffer_size": 2000, "warmup_steps": 0},
    "cql": {"batch_size": 32, "train_steps_per_iteration": 4},
}


def tiny_settings(**overrides: Any) -> TrainingSettings:
    values: dict[str, Any] = {
        "n_envs": 4,
        "rollout_length": 16,
        "max_steps": 12,
        "total_updates": 2,
        "minibatches": 2,
        "chunk_length": 8,
        "eval_every": 0,
        "eval_episodes": 8,
        "checkpoint_every": 1,
    }
    values.update(overrides)
    return TrainingSettings(**values)


def trainer(name: str, **settings: Any) -> Trainer:
    return with_recorded_play(
        Trainer(
            name,
            config_from_dict(_merged(CONFIG)),
            tiny_settings(**settings),
            hyperparameters=HYPERPARAMETERS.get(name, {}),
        )
    )


def with_recorded_play(t: Trainer) -> Trainer:
    """An offline algorithm (cql) learns from recorded play, never from its environment: random
    play of the run's own kind of environment stands in for what a game server records."""
    if t.algorithm.info.offline:
        assert isinstance(t.algorithm, OfflineLearner)
        rng = np.random.default_rng(0)
        env = t.make_env(4, seed=123)

        def random_valid(obs: Any) -> np.ndarray:
            return np.asarray(
                np.where(obs.action_mask, rng.random(obs.action_mask.shape), -1).argmax(-1)
            )

        t.algorithm.attach_dataset(play_transitions(env, random_valid, 16)[0])
    return t


def _merged(override: dict[str, Any]) -> dict[str, Any]:
    base = default_config()
    raw: dict[str, Any] = json.loads(json.dumps(override))
    raw["ctde"].setdefault("state_dim", base.ctde.state_dim)
    return raw


@pytest.fixture
def game(game_url: str) -> Any:
    """The game server's connection (ml_user)."""
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def actor_weights(t: Trainer) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in t.algorithm.actor.parameters()]


# --- the registry and the database --------------------------------------------------------------


def test_the_database_accepts_exactly_the_registry(admin: Any) -> None:
    rows = admin.execute(
        "SELECT name, title, on_policy, centralized_critic, recurrent, value_based "
        "FROM ml.training_algorithms ORDER BY name"
    ).fetchall()
    assert [r[0] for r in rows] == sorted(ALGORITHMS)
    for name, title, on_policy, centralized, recurrent, value_based in rows:
        info = ALGORITHMS[name].info
        assert (title, on_policy, centralized, recurrent, value_based) == (
            info.title,
            info.on_policy,
            info.centralized_critic,
            info.recurrent,
            info.value_based,
        )


def test_an_unknown_algorithm_is_refused_by_sql_and_by_the_registry(admin: Any) -> None:
    # A direct INSERT naming no registered algorithm: 23503, nothing queued.
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="training_algorithms"):
        admin.execute("INSERT INTO ml_training_jobs (archetype, algorithm) VALUES ('tank', 'dqn')")
    assert admin.execute("SELECT count(*) FROM ml_training_jobs").fetchone() == (0,)
    # The API: 22P02 with the known names in the hint.
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as info:
        admin.execute("SELECT ml.submit_training('tank', 'dqn')")
    assert info.value.diag.message_hint == "algorithms: " + ", ".join(sorted(ALGORITHMS))
    with pytest.raises(
        UnknownAlgorithmError, match="'dqn' \\(known: " + ", ".join(sorted(ALGORITHMS))
    ):
        algorithm_class("dqn")


def test_an_unknown_hyperparameter_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"algorithm\.no_such_key"):
        Trainer(
            "qmix",
            config_from_dict(_merged(CONFIG)),
            tiny_settings(),
            hyperparameters={"no_such_key": 1},
        )


# --- every algorithm ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_two_updates_on_the_pack_simulator(name: str) -> None:
    t = trainer(name)
    history = t.train()
    assert t.training_step == 2
    assert t.env_steps == (0 if t.algorithm.info.offline else 2 * 16 * 4)
    for record in history.updates:
        losses = [v for k, v in record.items() if "loss" in k]
        assert losses, record
        assert all(np.isfinite(losses))
    summary = t.evaluate(episodes=4)
    assert summary["episodes"] == 4
    assert 0.0 <= summary["win_rate"] <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_two_updates_on_a_pettingzoo_env(name: str) -> None:
    from mpe2 import simple_spread_v3

    def make_spread() -> Any:
        return simple_spread_v3.parallel_env(N=3, max_cycles=10, continuous_actions=False)

    config = _merged(CONFIG)
    config["ctde"].update({"state_dim": 18, "action_dim": 5, "inference": {"use_signals": False}})
    config["advanced"] = {"curriculum_learning": False}
    t = Trainer(
        name,
        config_from_dict(config),
        tiny_settings(rollout_length=10, chunk_length=10),
        env_factory=lambda s: PettingZooVecEnv(make_spread, s.n_envs, s.seed),
        hyperparameters=HYPERPARAMETERS.get(name, {}),
        n_agents=3,
    )
    history = with_recorded_play(t).train()
    played = 0.0 if t.algorithm.info.offline else 4.0
    assert [r["episodes"] for r in history.updates] == [played, played]
    assert np.isfinite(t.evaluate(episodes=2)["team_return"])


@pytest.mark.parametrize("name", NAMES)
def test_a_resumed_run_continues_exactly(name: str, tmp_path: Path) -> None:
    straight = trainer(name, total_updates=3)
    straight.train()
    first = trainer(name, total_updates=2)
    first.train(checkpoint_dir=tmp_path)
    resumed = trainer(name, total_updates=3)  # a new process would do this
    resumed.train(checkpoint_dir=tmp_path)
    assert resumed.training_step == straight.training_step == 3
    assert resumed.env_steps == straight.env_steps
    for a, b in zip(actor_weights(straight), actor_weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_a_run_ends_with_its_best_evaluated_weights(name: str, tmp_path: Path) -> None:
    # The loop keeps the best evaluation in best.pt and loads its weights alone at the end: a
    # weights-only state (no dims, no run) must restore every network, a weightless one too
    # (VDN's sum). QMIX, VDN and MADDPG failed there (KeyError) whenever eval_every was set.
    t = trainer(name, total_updates=2, eval_every=1)
    t.train(checkpoint_dir=tmp_path)
    assert (tmp_path / "best.pt").exists()
    fresh = trainer(name)
    fresh.load_checkpoint(tmp_path / "best.pt", weights_only=True)
    for a, b in zip(actor_weights(t), actor_weights(fresh), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_a_checkpoint_of_another_algorithm_is_refused(name: str, tmp_path: Path) -> None:
    other = "mappo" if name != "mappo" else "qmix"
    trainer(other, total_updates=1).train(checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=f"algorithm: checkpoint has {other}, config has {name}"):
        trainer(name).load_checkpoint(tmp_path / "latest.pt")


@pytest.mark.parametrize("name", NAMES)
def test_the_exported_actor_matches_torch_and_round_trips_the_registry(
    name: str, worker_url: str
) -> None:
    t = trainer(name, total_updates=1)
    t.train()
    exported = export_actor(t.algorithm.actor)  # parity-checked against torch inside
    exported.check_thresholds()
    assert exported.metrics["onnx"]["fp32"]["max_abs_error_probs"] <= 1e-5
    with psycopg.connect(worker_url, autocommit=True) as conn:
        model_id = register_actor_sync(conn, exported, archetype="tank", version=name)
        assert fetch_onnx_sync(conn, model_id) == exported.onnx_fp32
    # A value-based actor's outputs are softmax(Q): its argmax is the greedy action.
    actor = t.algorithm.actor
    state = torch.rand(6, actor.state_dim)
    probs, _ = actor(state)
    logits, _ = actor.logits(state)
    assert torch.equal(probs.argmax(-1), logits.argmax(-1))


def random_pack_actions(seed: int) -> Callable[[Any], np.ndarray]:
    """A policy of uniformly random pack actions (what recorded play may hold)."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, 7, obs.agent_mask.shape)


#: One archetype per algorithm, so that every trained actor can be deployed at once.
ARCHETYPES = dict(
    zip(NAMES, ["aggressive", "defensive", "support", "mage", "tank", "ranged"], strict=False)
)


def test_every_algorithm_trains_from_sql_and_is_served(
    worker_url: str, admin: Any, game: Any, listener: Any, tmp_path: Path
) -> None:
    jobs = {}
    for name in NAMES:
        if ALGORITHMS[name].info.offline:  # it learns from play the game server recorded
            env = ContractCombatEnv(4, seed=5, max_steps=12, action_space="pack")
            played, _ = play_transitions(env, random_pack_actions(seed=5), 16)
            record_experience(game, experience_args(played, ARCHETYPES[name], "pack_coordination"))
        config = json.loads(json.dumps(TINY))
        config["algorithm"] = HYPERPARAMETERS.get(name, {})
        jobs[name] = admin.execute(
            "INSERT INTO ml_training_jobs (archetype, algorithm, config) "
            "VALUES (%s, %s, %s) RETURNING id",
            (ARCHETYPES[name], name, json.dumps(config)),
        ).fetchone()[0]
    with training_worker(worker_url, tmp_path):
        assert wait_until(
            lambda: all(job_row(admin, j)["status"] in ("done", "failed") for j in jobs.values()),
            timeout_s=600,
        )
    for name, job in jobs.items():
        row = job_row(admin, job)
        assert (row["status"], row["error"]) == ("done", None), name
        assert row["result"]["algorithm"] == name
        model = admin.execute(
            "SELECT training_status, model_name FROM ml_models WHERE id = %s", (row["model_id"],)
        ).fetchone()
        assert model == ("trained", f"pack actor ({name}, job {job})")
        admin.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (row["model_id"],))
    # Each deployed actor answers its archetype's packs through the worker, whatever trained it
    # (MADDPG's has no GRU: no hidden input or output).
    packs = {name: [100 * k + i for i in range(1, 4)] for k, name in enumerate(NAMES, 1)}
    for name, ids in packs.items():
        sync_pack(game, ids, ARCHETYPES[name], map_id=len(ids) + ids[0])
    with worker_process(worker_url):
        requests = {name: request_pack(game, ids, ARCHETYPES[name]) for name, ids in packs.items()}
        notes = collect_decisions(listener, set(requests.values()))
    for name, request in requests.items():
        (note,) = notes[request]
        assert note["status"] == "done", (name, note)
        assert len(note["actions"]) == 3
        assert all(0 <= a["action"] <= 6 for a in note["actions"]), name
        stored = game.execute("SELECT ml.decision_result(%s)", (request,)).fetchone()[0]
        assert stored["model_version"] == f"job{jobs[name]}", name


def test_a_job_with_a_bad_hyperparameter_fails_with_its_key() -> None:
    # A config error fails the job at once (no retry); a range check is one too.
    with pytest.raises(TrainingConfigError, match=r"algorithm\.batch_episodes must be >= 1"):
        parse_job_config({"algorithm": {"batch_episodes": 0}}, "qmix")
    with pytest.raises(TrainingConfigError, match=r"algorithm\.no_such_key"):
        parse_job_config({"algorithm": {"no_such_key": 1}}, "maddpg")
    with pytest.raises(TrainingConfigError, match="unknown algorithm 'dqn'"):
        parse_job_config({}, "dqn")
