"""Helpers of the worker tests: real actors in the registry, real worker processes, real clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
import psycopg
import torch

from config.model_types import ACTION_DIMS, COMBAT
from models.export.onnx import ExportedActor, export_actor, session
from models.export.registry import fetch_onnx_sync, register_actor_sync
from models.networks.ctde import DecentralizedActor
from tests.ctde_helpers import SMALL_HIDDEN, small_export

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@cache
def combat_actor() -> DecentralizedActor:
    """A seeded combat policy: the game server's 10 actions and DEFER, no GRU, narrow."""
    torch.manual_seed(1)
    return DecentralizedActor(
        action_dim=ACTION_DIMS[COMBAT], hidden_dim=SMALL_HIDDEN, use_gru=False
    ).eval()


@cache
def combat_export() -> ExportedActor:
    return export_actor(combat_actor(), agreement_samples=2048)


def deploy_actor(
    admin_url: str,
    archetype: str,
    version: str,
    exported: ExportedActor | None = None,
    model_type: str = "pack_coordination",
) -> int:
    """Register a test actor (exported and verified for real; the small pack actor unless
    `exported` is given) and deploy it: the UPDATE an operator runs. Returns the model id."""
    with psycopg.connect(admin_url) as conn:
        model_id = register_actor_sync(
            conn,
            exported or small_export(),
            archetype=archetype,
            version=version,
            model_type=model_type,
        )
        conn.execute("UPDATE ml_models SET is_deployed = true WHERE id = %s", (model_id,))
    return model_id


@contextmanager
def worker_process(
    worker_url: str,
    worker_id: str = "w1",
    lease_s: float = 1.0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m worker` as it runs in production (decisions only), stopped with SIGTERM.
    `extra_env`: more settings (e.g. RAGNAROK_WORKER_CPU_ONLY)."""
    env = dict(os.environ)
    env.update(
        WORKER_DATABASE_URL=worker_url,
        RAGNAROK_WORKER_ID=worker_id,
        RAGNAROK_WORKER_LEASE_S=str(lease_s),
        RAGNAROK_WORKER_POLL_S="0.2",
    )
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--no-training", "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def served(admin: psycopg.Connection[Any], model_id: int) -> Any:
    """The file a CPU serves for this model (INT8), in the host's onnxruntime: what the worker and
    inline decisions run."""
    return session(fetch_onnx_sync(admin, model_id, "int8"))


def random_state(rng: np.random.Generator) -> list[float]:
    return [round(float(x), 4) for x in rng.uniform(-1, 1, 64)]


def sync_pack(
    game: psycopg.Connection[Any], ids: list[int], archetype: str, map_id: int = 1
) -> None:
    """The game server's tick: place the monsters side by side so they form one pack."""
    rng = np.random.default_rng(ids[0])
    monsters = [
        {
            "id": monster,
            "mob_id": 1002,
            "archetype": archetype,
            "map_id": map_id,
            "x": 100 + i,
            "y": 100,
            "hp_ratio": 1.0,
            "leadership_score": 1.0 - i / 10,
            "state": random_state(rng),
        }
        for i, monster in enumerate(ids)
    ]
    game.execute("SELECT ml.sync_monsters(%s::jsonb)", (json.dumps(monsters),))


def request_pack(game: psycopg.Connection[Any], ids: list[int], archetype: str) -> int:
    rng = np.random.default_rng(ids[-1])
    request = {
        "monsters": [{"id": m, "archetype": archetype, "state": random_state(rng)} for m in ids]
    }
    row = game.execute(
        "SELECT ml.request_pack_actions(%s::jsonb)", (json.dumps(request),)
    ).fetchone()
    assert row is not None
    return int(row[0])


def collect_decisions(
    listener: psycopg.Connection[Any], job_ids: set[int], timeout_s: float = 30.0
) -> dict[int, list[dict[str, Any]]]:
    """Every ml_decisions notification for `job_ids` until each has one (or the timeout)."""
    seen: dict[int, list[dict[str, Any]]] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not job_ids <= set(seen):
        for note in listener.notifies(timeout=0.5, stop_after=64):
            payload = json.loads(note.payload)
            seen.setdefault(int(payload["job_id"]), []).append(payload)
    return seen


def wait_until(predicate: Any, timeout_s: float = 30.0, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False


def gateway_insert(
    game: psycopg.Connection[Any],
    monster_id: int,
    state: list[float],
    archetype: str = "aggressive",
) -> int:
    """The legacy gateway's own INSERT, string-built with ARRAY[...]::REAL[] as it does."""
    array = "ARRAY[" + ",".join(repr(x) if x == x else "'NaN'" for x in state) + "]::REAL[]"
    sql = (
        "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, "
        "position_x, position_y, hp_ratio, sp_ratio, status, priority) VALUES ("
        f"{monster_id}, 1002, '{archetype}', {array}, 1, 150, 200, 0.8, 0.5, 'pending', 5) "
        "RETURNING request_id"
    )
    row = game.execute(sql.encode()).fetchone()
    assert row is not None
    return int(row[0])


def gateway_poll(
    game: psycopg.Connection[Any], request_id: int, timeout_s: float
) -> tuple[int, float] | None:
    """The gateway's polling loop: every 2 ms until the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = game.execute(
            "SELECT action_id, confidence FROM ai_responses WHERE request_id = %s LIMIT 1",
            (request_id,),
        ).fetchone()
        if row is not None:
            return int(row[0]), float(row[1])
        time.sleep(0.002)
    return None
