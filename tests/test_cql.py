"""Discrete CQL from recorded play: the traditional AI's fights recorded through
ml.record_experience teach a Q-network that reproduces them on held-out states and wins fights,
where the same offline double DQN without the CQL term collapses; a job from SQL trains, exports
and registers it, and fails with the reason when nothing was recorded."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import torch

from config.model_types import COMBAT
from config.training_jobs import TrainingConfigError
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.traditional import TraditionalPolicy
from models.offline.cql import CQL
from models.offline.dataset import OfflineDataset, load_offline_dataset, play_transitions
from models.training.job import parse_job_config
from models.training.loop import Trainer
from tests.test_experience import experience_args, random_dataset, record_experience
from tests.test_training_job import job_row, training_worker
from tests.worker_helpers import wait_until

ROWS_PER_CALL = 4096


@cache
def traditional_play(seed: int, fights: int, steps: int) -> OfflineDataset:
    """The traditional AI's fights on the contract simulator, every acting monster-step as the
    game server records it: the primitive it executed (0-9, a combat model's action), its reward,
    its next state."""
    env = ContractCombatEnv(fights, seed=seed, max_steps=80, action_space="combat")
    return play_transitions(env, TraditionalPolicy(env, seed=seed), steps)[0]


def record(game: psycopg.Connection[Any], dataset: OfflineDataset, archetype: str) -> None:
    for start in range(0, len(dataset), ROWS_PER_CALL):
        part = dataset.subset(np.arange(start, min(start + ROWS_PER_CALL, len(dataset))))
        assert record_experience(game, experience_args(part, archetype, COMBAT, start + 1)) == len(
            part
        )


def combat_cql(alpha: float, updates: int = 8) -> Trainer:
    config, settings, hp = parse_job_config(
        {
            "training": {"model_type": COMBAT, "total_updates": updates, "eval_every": 0,
                         "n_envs": 2},
            "ctde": {"actor": {"hidden_dim": 64}},
            "algorithm": {"alpha": alpha, "train_steps_per_iteration": 100, "batch_size": 128},
        },
        "cql",
    )  # fmt: skip
    return Trainer("cql", config, settings, hyperparameters=hp)


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        yield conn


def test_cql_learns_the_recorded_play_where_offline_dqn_collapses(
    game: psycopg.Connection[Any], worker_url: str
) -> None:
    played = traditional_play(seed=7, fights=32, steps=100)  # ~8,700 transitions
    record(game, played, "aggressive")
    recorded = load_offline_dataset(worker_url, "aggressive", COMBAT, 100_000)
    assert len(recorded) == len(played)
    held_out = traditional_play(seed=99, fights=16, steps=40)  # other fights, never trained on
    majority = np.bincount(held_out.actions).max() / len(held_out)  # ATTACK, about half

    results = {}
    for alpha in (1.0, 0.0):
        t = combat_cql(alpha)
        assert isinstance(t.algorithm, CQL)
        t.algorithm.attach_dataset(recorded)
        history = t.train()
        assert t.env_steps == 0
        assert t.training_step == 8
        assert all(np.isfinite(r["loss"]) for r in history.updates)
        agreement = float((t.algorithm.greedy_actions(held_out.states) == held_out.actions).mean())
        # As served: a combat model's action drawn from softmax(Q) by the state, on held-out
        # fights of the simulator (the Trainer's evaluation).
        results[alpha] = (agreement, t.evaluate(episodes=100)["win_rate"])
    (cql_agreement, cql_wins), (dqn_agreement, dqn_wins) = results[1.0], results[0.0]
    # Measured: CQL 0.80 of the held-out actions against 0.52 for always-ATTACK, and 0.31 of the
    # fights won (the traditional AI wins 0.32 of bench.offline's 500, random play 0.02); the same
    # network and steps without the CQL term: 0.02 and 0.01.
    assert cql_agreement > majority + 0.15
    assert dqn_agreement < majority - 0.2
    assert cql_wins >= 0.15
    assert cql_wins > dqn_wins + 0.1


def test_a_cql_job_from_sql_trains_exports_and_registers(
    game: psycopg.Connection[Any], admin: psycopg.Connection[Any], worker_url: str, tmp_path: Path
) -> None:
    record(game, traditional_play(seed=3, fights=8, steps=60), "tank")
    config = {
        "training": {"model_type": "combat", "n_envs": 4, "total_updates": 2, "eval_every": 0,
                     "eval_episodes": 8, "checkpoint_every": 1},
        "ctde": {"actor": {"hidden_dim": 16}},
        "algorithm": {"batch_size": 64, "train_steps_per_iteration": 20},
    }  # fmt: skip
    jobs = {
        archetype: admin.execute(
            "INSERT INTO ml.ml_training_jobs (archetype, algorithm, config) "
            "VALUES (%s, 'cql', %s) RETURNING id",
            (archetype, json.dumps(config)),
        ).fetchone()[0]  # type: ignore[index]
        for archetype in ("tank", "mage")
    }
    with training_worker(worker_url, tmp_path):
        assert wait_until(
            lambda: all(job_row(admin, j)["status"] in ("done", "failed") for j in jobs.values()),
            timeout_s=120,
        )
    done = job_row(admin, jobs["tank"])
    assert (done["status"], done["error"]) == ("done", None)
    assert (done["result"]["algorithm"], done["result"]["env_steps"]) == ("cql", 0)
    model = admin.execute(
        "SELECT model_type, training_status, metrics -> 'training' ->> 'algorithm', "
        "onnx_fp32 IS NOT NULL FROM ml_models WHERE id = %s",
        (done["model_id"],),
    ).fetchone()
    assert model == ("combat", "trained", "cql", True)
    # Nothing recorded for the mage: the job fails at once, with the reason, and is not retried.
    failed = job_row(admin, jobs["mage"])
    assert failed["status"] == "failed"
    assert "no valid recorded experience for archetype 'mage'" in failed["error"]
    assert failed["attempts"] == 1


def test_the_q_network_ignores_signals_and_has_no_memory() -> None:
    t = combat_cql(1.0, updates=1)
    assert isinstance(t.algorithm, CQL)
    t.algorithm.attach_dataset(random_dataset(64))
    t.train()
    actor = t.algorithm.actor
    assert not actor.use_gru
    assert actor.recurrent_dim == 0
    state = torch.rand(5, 64)
    without, _ = actor(state)
    with_signals, _ = actor(state, torch.rand(5, 32))
    assert torch.equal(without, with_signals)  # a pack actor is fed signals when served


def test_the_cql_loss_is_td_plus_the_conservative_term() -> None:
    t = combat_cql(1.0)
    algorithm = t.algorithm
    assert isinstance(algorithm, CQL)
    data = random_dataset(6)
    batch = {
        "states": torch.as_tensor(data.states),
        "actions": torch.as_tensor(data.actions),
        "rewards": torch.as_tensor(data.rewards),
        "next_states": torch.as_tensor(data.next_states),
        "dones": torch.as_tensor(data.dones),
    }
    terms = algorithm.loss_terms(batch)
    with torch.no_grad():
        q, _ = algorithm.q_net.logits(batch["states"])
        taken = q[torch.arange(6), batch["actions"]]
        next_q, _ = algorithm.q_net.logits(batch["next_states"])
        next_target, _ = algorithm.target_q_net.logits(batch["next_states"])
        bootstrap = next_target[torch.arange(6), next_q.argmax(-1)]
    gamma = t.config.ctde.gamma
    expected_target = batch["rewards"] + gamma * torch.where(batch["dones"], 0.0, bootstrap)
    torch.testing.assert_close(terms["target"], expected_target)
    torch.testing.assert_close(terms["cql"], torch.logsumexp(q, -1) - taken)
    # A done transition's target is its reward alone.
    done = batch["dones"]
    torch.testing.assert_close(terms["target"][done], batch["rewards"][done])


def test_a_dataset_that_does_not_fit_the_actor_is_refused() -> None:
    t = combat_cql(1.0)
    with pytest.raises(RuntimeError, match="attach_dataset"):
        t.train()
    algorithm = t.algorithm
    assert isinstance(algorithm, CQL)
    with pytest.raises(ValueError, match="holds action 11, the actor has 11 actions"):
        algorithm.attach_dataset(_with_action(random_dataset(4), 11))
    wide = OfflineDataset(
        np.zeros((2, 65), np.float32),
        np.array([0, 1]),
        np.zeros(2, np.float32),
        np.zeros((2, 65), np.float32),
        np.array([False, True]),
    )
    with pytest.raises(ValueError, match=r"65 wide, ctde\.state_dim is 64"):
        algorithm.attach_dataset(wide)
    with pytest.raises(ValueError, match="no transition"):
        algorithm.attach_dataset(OfflineDataset.empty())
    with pytest.raises(TrainingConfigError, match=r"algorithm\.alpha must be >= 0"):
        parse_job_config({"algorithm": {"alpha": -1}}, "cql")


def _with_action(data: OfflineDataset, action: int) -> OfflineDataset:
    actions = data.actions.copy()
    actions[0] = action
    return OfflineDataset(data.states, actions, data.rewards, data.next_states, data.dones)


def test_recorded_play_marks_deaths_and_fight_ends_done() -> None:
    env = ContractCombatEnv(8, seed=1, max_steps=30, action_space="combat")
    data, fights = play_transitions(env, TraditionalPolicy(env, seed=1), 60)
    assert len(data) == len(fights)
    assert data.dones.any()
    assert not data.dones.all()
    # A monster that goes on acts next from its next state: states are the contract's floats.
    assert np.isfinite(data.states).all()
    assert (data.states.any(axis=1)).all()
    assert data.next_states[~data.dones].any(axis=1).all()
    assert set(np.unique(data.actions)) <= set(range(10))  # the traditional AI never defers
