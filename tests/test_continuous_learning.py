"""Continuous learning: ml.queue_retraining (pg_cron, every minute) queues one training job of
continuous_learning.algorithm for an archetype and model type once continuous_learning.
min_new_experiences transitions were recorded since its newest model, never a second while one is
pending or running, and counts only what arrived after a newer model; 0 turns it off. That pg_cron
schedules it every minute: tests/test_coordination_api.py (JOBS)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tests.test_experience import record_experience

QUEUE = "SELECT ml.queue_retraining()"


def record(conn: Any, archetype: str, model_type: str, n: int) -> None:
    rng = np.random.default_rng(n)
    states = rng.random((n, 64), dtype=np.float32).tolist()
    record_experience(
        conn,
        {
            "monster_ids": list(range(1, n + 1)),
            "archetype": archetype,
            "model_type": model_type,
            "states": states,
            "actions": [1] * n,
            "rewards": [0.5] * n,
            "next_states": states,
            "dones": [False] * n,
        },
    )


def set_threshold(admin: Any, n: int) -> None:
    admin.execute(
        "UPDATE ml.config SET value = to_jsonb(%s) WHERE key = "
        "'continuous_learning.min_new_experiences'",
        (n,),
    )


def jobs(admin: Any) -> list[tuple[str, str, str, str]]:
    rows = admin.execute(
        "SELECT archetype, algorithm, config -> 'training' ->> 'model_type', status "
        "FROM ml_training_jobs ORDER BY id"
    ).fetchall()
    return [tuple(r) for r in rows]


def test_retraining_is_queued_once_enough_new_experience_arrived(admin: Any, game: Any) -> None:
    set_threshold(admin, 20)
    record(game, "mage", "combat", 19)
    assert admin.execute(QUEUE).fetchone()[0] == 0
    record(game, "mage", "combat", 1)
    record(game, "tank", "pack_coordination", 5)
    assert admin.execute(QUEUE).fetchone()[0] == 1
    assert jobs(admin) == [("mage", "cql", "combat", "pending")]
    record(game, "mage", "combat", 30)
    assert admin.execute(QUEUE).fetchone()[0] == 0  # one is pending already
    admin.execute("UPDATE ml_training_jobs SET status = 'done'")
    # A model registered now: only what arrives after it counts.
    admin.execute(
        "INSERT INTO ml.ml_models (archetype, model_type, model_name, version, metrics) "
        "VALUES ('mage', 'combat', 'combat policy', 'cl1', %s)",
        (json.dumps({}),),
    )
    assert admin.execute(QUEUE).fetchone()[0] == 0
    record(game, "mage", "combat", 20)
    assert admin.execute(QUEUE).fetchone()[0] == 1
    set_threshold(admin, 0)
    record(game, "tank", "pack_coordination", 50)
    assert admin.execute(QUEUE).fetchone()[0] == 0
