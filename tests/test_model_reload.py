"""NOTIFY ml_models wakes the worker's model check, and any role can send it: a flood of them from
the game server's role must cost no model fetch (18,500 once made every round re-fetch 7.5 MB of
models: decisions p50 1.5 -> 15.5 ms), while a real deploy is still picked up. The worker's log
counts both: each fetch of ONNX files, and at its stop the version checks and files fetched."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from tests.worker_helpers import (
    REPO,
    collect_decisions,
    deploy_actor,
    request_pack,
    sync_pack,
)

PACK = [601, 602, 603]
FETCHED = re.compile(r"fetched the ONNX files of (\d+) changed models")
STOPPED = re.compile(r"stopped: .*; (\d+) model checks, (\d+) model files fetched")


@contextmanager
def logged_worker(worker_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m worker` at log level INFO into `log`, stopped with SIGTERM."""
    env = dict(os.environ, WORKER_DATABASE_URL=worker_url, RAGNAROK_WORKER_ID="reloader")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker", "--no-training", "--log-level", "INFO"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def version_of(game: Any, listener: Any) -> str:
    job = request_pack(game, PACK, "aggressive")
    [note] = collect_decisions(listener, {job})[job]
    assert note["status"] == "done"
    return str(note["model_version"])


def test_a_notify_flood_fetches_no_model_and_a_deploy_is_still_loaded(
    db_url: str, game_url: str, worker_url: str, listener: Any, tmp_path: Path
) -> None:
    deploy_actor(db_url, "aggressive", "1.0")
    log = tmp_path / "worker.log"
    with (
        psycopg.connect(game_url, autocommit=True) as game,
        logged_worker(worker_url, log) as process,
    ):
        sync_pack(game, PACK, "aggressive")
        assert version_of(game, listener) == "1.0"
        # The flood, as ml_user: 5,000 distinct notifications in one transaction (identical ones
        # would be folded into one), then 300 more one by one over about a second.
        game.execute("SELECT pg_notify('ml_models', g::text) FROM generate_series(1, 5000) g")
        for k in range(300):
            game.execute("SELECT pg_notify('ml_models', %s)", (f"again {k}",))
            time.sleep(0.003)
        assert version_of(game, listener) == "1.0"
        time.sleep(0.6)  # past the debounce window: the flood's last check is made
        assert FETCHED.findall(log.read_text()) == ["1"]  # the start's, and no other
        deploy_actor(db_url, "aggressive", "2.0")
        deadline = time.monotonic() + 30
        while version_of(game, listener) != "2.0":
            assert time.monotonic() < deadline, "the deploy was never picked up"
            time.sleep(0.05)
        assert process.poll() is None
    text = log.read_text()
    assert process.returncode == 0, text
    assert FETCHED.findall(text) == ["1", "1"]  # the start's and the deploy's
    [(checks, fetched)] = STOPPED.findall(text)
    assert fetched == "2"
    # A check per debounce window at most: a handful for 5,300 notifications over ~2 seconds.
    assert 2 <= int(checks) <= 25, text
