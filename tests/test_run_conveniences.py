"""The seed's run conveniences, shared by every algorithm through the loop: the seed's CSV columns,
early stopping on a success streak, checkpoint directories, resume from any checkpoint, Ctrl+C,
the export folder and `python -m models.training`. Tiny MAPPO runs on the contract simulator:
the mechanics, not the learning."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.algorithms.base import Iteration
from models.config import config_from_dict, default_config
from models.training import checkpoints
from models.training.export_folder import read_export_folder
from models.training.loop import SEED_COLUMNS, Trainer, seed_columns
from models.training.settings import TrainingSettings

ROOT = Path(__file__).resolve().parents[1]
STEPS = 4 * 16  # env steps per update: n_envs x rollout_length
TINY_CTDE: dict[str, Any] = {
    "actor": {"hidden_dim": 16, "dropout": 0.0},
    "critic": {"hidden_dims": [16, 16], "dropout": 0.0, "n_heads": 2},
    "n_epochs": 1,
}
TINY_TRAINING: dict[str, Any] = {
    "n_envs": 4,
    "rollout_length": 16,
    "max_steps": 12,
    "minibatches": 2,
    "chunk_length": 8,
    "eval_every": 0,
    "eval_episodes": 4,
    "checkpoint_every": 1,
}


def tiny(**settings: Any) -> Trainer:
    """MAPPO on the contract simulator, as a job builds it, at sizes that train in a second."""
    raw = asdict(default_config())
    raw["ctde"].update(TINY_CTDE)
    raw["advanced"]["curriculum_learning"] = False
    values = {**TINY_TRAINING, "total_updates": 3, **settings}
    return Trainer("mappo", config_from_dict(raw), TrainingSettings(**values))


def scripted(trainer: Trainer, win_rates: list[float]) -> None:
    """The trainer's evaluations score these win rates in turn (what the streak logic reads)."""
    scores: Iterator[float] = iter(win_rates)

    def evaluation(episodes: int | None = None, seed: int | None = None) -> dict[str, float]:
        return {"win_rate": next(scores), "team_return": 1.0, "episodes": 4.0}

    trainer.evaluation = evaluation  # type: ignore[method-assign]


def csv_rows(directory: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (directory / "training_progress.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def actor_weights(t: Trainer) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in t.algorithm.actor.parameters()]


def test_progress_csv_has_the_seeds_columns_first_under_one_header(tmp_path: Path) -> None:
    t = tiny(eval_every=2)
    t.train(checkpoint_dir=tmp_path)
    header, rows = csv_rows(tmp_path)
    assert tuple(header[: len(SEED_COLUMNS)]) == SEED_COLUMNS
    assert "actor_loss" in header
    assert "eval_win_rate" in header
    assert len(header) == len(set(header))
    lines = (tmp_path / "training_progress.csv").read_text().splitlines()
    assert len(lines) == 1 + 3
    assert {line.count(",") for line in lines} == {len(header) - 1}
    for i, row in enumerate(rows, start=1):
        assert float(row["timesteps_total"]) == i * STEPS == float(row["env_steps"])
        assert float(row["num_env_steps_sampled"]) == STEPS
        assert float(row["num_agent_steps_sampled"]) >= STEPS  # 1-5 monsters a fight
        low, mean, high = (float(row[f"episode_reward_{k}"]) for k in ("min", "mean", "max"))
        assert low <= mean <= high
        assert float(row["episode_len_mean"]) == 12.0  # untrained packs time out
        assert 0.0 <= float(row["win_rate"]) <= 1.0
        assert float(row["streak"]) == 0.0
    assert rows[0]["eval_win_rate"] == ""
    assert rows[1]["eval_win_rate"] != ""
    assert t.history.updates[0]["timesteps_total"] == STEPS


def test_seed_columns_come_from_the_stats_without_episodes() -> None:
    # An RLlib-backed algorithm hands its episodes' summary in `stats`, with episodes=[].
    measured = {"team_return": 2.0, "team_return_min": -1.0, "team_return_max": 5.0,
                "mean_length": 30.0, "win_rate": 0.5}  # fmt: skip
    row = seed_columns(None, measured, 640, Iteration({}, [], env_steps=64, samples=200), 2)
    assert row == {
        "timesteps_total": 640.0,
        "episode_reward_mean": 2.0,
        "episode_reward_min": -1.0,
        "episode_reward_max": 5.0,
        "episode_len_mean": 30.0,
        "num_env_steps_sampled": 64.0,
        "num_agent_steps_sampled": 200.0,
        "win_rate": 0.5,
        "streak": 2.0,
    }
    bare = seed_columns(None, {}, 0, Iteration({}, [], env_steps=0), 0)
    assert math.isnan(bare["win_rate"])
    assert math.isnan(bare["episode_reward_min"])


def test_a_success_streak_stops_the_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    t = tiny(total_updates=20, eval_every=1, success_threshold=0.7, success_streak=3)
    scripted(t, [0.8, 0.2, 0.7, 0.9, 0.95, 0.99])
    with caplog.at_level(logging.INFO, logger="models.training.loop"):
        history = t.train(checkpoint_dir=tmp_path)
    assert t.training_step == 5
    assert history.stop_reason == "success_streak"
    assert [r["streak"] for r in history.updates] == [1.0, 0.0, 1.0, 2.0, 3.0]
    assert [e["streak"] for e in history.evaluations] == [1.0, 0.0, 1.0, 2.0, 3.0]
    assert [row["streak"] for row in csv_rows(tmp_path)[1]] == ["1.0", "0.0", "1.0", "2.0", "3.0"]
    assert "early stop: 3 consecutive evaluations with win_rate at 0.7" in caplog.text


def test_a_success_streak_needs_its_threshold_and_evaluations() -> None:
    with pytest.raises(ValueError, match="success_threshold"):
        TrainingSettings(success_streak=3)
    with pytest.raises(ValueError, match="eval_every"):
        TrainingSettings(success_streak=3, success_threshold=0.7, eval_every=0)


def test_checkpoint_directories_are_written_and_pruned(tmp_path: Path) -> None:
    t = tiny(total_updates=4, eval_every=1, keep_checkpoints=2)
    scripted(t, [0.1, 0.5, 0.3, 0.2])
    t.train(checkpoint_dir=tmp_path)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == [
        f"best_reward_{2 * STEPS}",
        f"checkpoint_{3 * STEPS}",
        f"checkpoint_{4 * STEPS}",
    ]
    assert (tmp_path / "latest.pt").exists()
    assert (tmp_path / "best.pt").exists()
    for name, step in ((f"checkpoint_{4 * STEPS}", 4), (f"best_reward_{2 * STEPS}", 2)):
        meta = checkpoints.read_file(root / name / "checkpoint.pt")["metadata"]
        assert (meta["algorithm"], meta["step"]) == ("mappo", step)
    best = checkpoints.read_file(root / f"best_reward_{2 * STEPS}" / "checkpoint.pt")
    assert best["metadata"]["extra"]["eval"]["eval_win_rate"] == 0.5


def test_resume_from_a_checkpoint_directory_continues_at_its_step(tmp_path: Path) -> None:
    straight = tiny(keep_checkpoints=0)
    straight.train(checkpoint_dir=tmp_path / "a")
    assert len(list((tmp_path / "a" / "checkpoints").glob("checkpoint_*"))) == 3  # 0: keep all
    resumed = tiny()
    resumed.train(
        checkpoint_dir=tmp_path / "b",
        resume_from=tmp_path / "a" / "checkpoints" / f"checkpoint_{STEPS}",
    )
    assert resumed.training_step == 3
    assert resumed.env_steps == 3 * STEPS
    assert [r["update"] for r in resumed.history.updates] == [1.0, 2.0, 3.0]
    for a, b in zip(actor_weights(straight), actor_weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)  # the exact continuation of the straight run
    # The new run folder's CSV holds the restored history, then the new updates.
    assert [row["update"] for row in csv_rows(tmp_path / "b")[1]] == ["1.0", "2.0", "3.0"]
    again = tiny()
    again.train(resume_from=tmp_path / "a" / "latest.pt")  # a file; the run was complete
    assert again.training_step == 3
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint there"):
        tiny().train(resume_from=tmp_path)


def test_ctrl_c_between_updates_saves_before_it_exits(tmp_path: Path) -> None:
    def interrupt(step: int, record: dict[str, float]) -> None:
        if step == 2:
            raise KeyboardInterrupt

    t = tiny(total_updates=5, checkpoint_every=10)
    with pytest.raises(KeyboardInterrupt):
        t.train(checkpoint_dir=tmp_path, progress=interrupt)
    assert t.history.stop_reason == "interrupted"
    assert checkpoints.read_file(tmp_path / "latest.pt")["metadata"]["step"] == 2
    saved = tmp_path / "checkpoints" / f"checkpoint_{2 * STEPS}" / "checkpoint.pt"
    assert checkpoints.read_file(saved)["metadata"]["step"] == 2
    resumed = tiny(total_updates=5, checkpoint_every=10)
    resumed.train(checkpoint_dir=tmp_path)
    assert resumed.training_step == 5
    assert [r["update"] for r in resumed.history.updates] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_ctrl_c_inside_an_update_finishes_it_then_saves(tmp_path: Path) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    t = tiny(total_updates=5, checkpoint_every=10)
    iterate = t.algorithm.iterate

    def ctrl_c_midway() -> Iteration:
        if t.training_step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # noted; the update goes on
        return iterate()

    t.algorithm.iterate = ctrl_c_midway  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        t.train(checkpoint_dir=tmp_path)
    assert t.training_step == 2
    assert checkpoints.read_file(tmp_path / "latest.pt")["metadata"]["step"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_an_interrupt_inside_an_update_saves_nothing_torn(tmp_path: Path) -> None:
    t = tiny(total_updates=5, checkpoint_every=1)
    iterate = t.algorithm.iterate
    calls = []

    def interrupted_iterate() -> Iteration:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return iterate()

    t.algorithm.iterate = interrupted_iterate  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        t.train(checkpoint_dir=tmp_path)
    assert checkpoints.read_file(tmp_path / "latest.pt")["metadata"]["step"] == 1
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [f"checkpoint_{STEPS}"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "models.training", "--algorithm", "mappo", *args]


def tiny_config(**training: Any) -> str:
    config = {
        "ctde": TINY_CTDE,
        "advanced": {"curriculum_learning": False},
        "training": {**TINY_TRAINING, **training},
    }
    return json.dumps(config)


def test_the_cli_trains_stops_on_a_streak_and_writes_the_export_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # Untrained packs time out (a win rate of 0): a bar of -1 makes every evaluation a success.
    args = ["--updates", "6", "--out", str(out), "--config", tiny_config(eval_every=1)]
    streak = ["--success-threshold", "-1", "--success-streak", "2"]
    done = subprocess.run(
        cli(*args, *streak),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stopped by success_streak" in done.stdout
    export = out / "export"
    assert sorted(p.name for p in export.iterdir()) == [
        "README.txt",
        "actor.fp16.onnx",
        "actor.int8.onnx",
        "actor.onnx",
        "metadata.json",
    ]
    meta = json.loads((export / "metadata.json").read_text())
    assert meta["algorithm"] == "mappo"
    assert meta["model_type"] == "pack_coordination"
    assert meta["updates"] == 2
    assert meta["env_steps"] == 2 * STEPS
    assert meta["stop_reason"] == "success_streak"
    assert meta["dims"] == {"state_dim": 64, "signal_dim": 32, "action_dim": 7, "hidden_dim": 16}
    assert 0.0 <= meta["evaluation"]["final"]["win_rate"] <= 1.0
    assert meta["onnx"]["checks"]["passed"] is True
    assert meta["versions"]["torch"]
    assert meta["created_at"]
    assert meta["registration"] is None
    readme = (export / "README.txt").read_text()
    assert "MAPPO" in readme
    assert "win rate" in readme
    assert "UPDATE ml_models SET is_deployed = true WHERE version = 'v1';" in readme
    exported = read_export_folder(export)  # what register_actor_sync takes
    exported.check_thresholds()
    assert exported.onnx_fp32 == (export / "actor.onnx").read_bytes()
    assert (out / "checkpoints" / f"checkpoint_{2 * STEPS}" / "checkpoint.pt").exists()


def test_the_cli_saves_and_exits_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "run"
    runner = subprocess.Popen(
        cli("--updates", "100000", "--out", str(out), "--config", tiny_config(), "--no-export"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob("checkpoints/checkpoint_*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, stderr[-3000:]
    assert "interrupted at update" in stderr
    assert "Traceback" not in stderr
    step = checkpoints.read_file(out / "latest.pt")["metadata"]["step"]
    assert step >= 1
    assert (out / "checkpoints" / f"checkpoint_{step * STEPS}" / "checkpoint.pt").exists()
