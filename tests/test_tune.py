"""Ray Tune sweeps and comparisons (models/rllib/tune.py) through the command's own entry point,
on a local 2-CPU Ray: tiny runs of the real trainers, one results row per trial, a real PNG."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.rllib import cluster
from models.rllib.tune import RUN_DIR, TuneError, main, parse_param, plan
from tests.test_training_job import TINY

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_config() -> str:
    training = {**TINY["training"], "eval_every": 1, "eval_episodes": 8}
    return json.dumps({**TINY, "training": training})


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    cluster.connect(num_cpus=2)
    yield
    ray.shutdown()


def table_rows(results_md: Path) -> list[list[str]]:
    """The cells of results.md's table rows (the header and its rule left out)."""
    lines = [line for line in results_md.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_a_learning_rate_sweep_writes_one_row_per_trial_and_a_plot(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lr"
    status = main(
        [
            "sweep",
            "--algorithm",
            "mappo",
            "--param",
            "ctde.actor.learning_rate=3e-4,1e-3",
            "--seed",
            "3",
            "--updates",
            "2",
            "--config",
            tiny_config(),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    rows = table_rows(out / "results.md")
    assert len(rows) == 2
    assert {row[2] for row in rows} == {
        "ctde.actor.learning_rate=0.0003",
        "ctde.actor.learning_rate=0.001",
    }
    best = []
    for trial, algorithm, trial_params, seed, updates, env_steps, best_rate, final, wall in rows:
        assert algorithm == "mappo"
        assert seed == "3"
        assert updates == "2"
        assert int(env_steps) == 2 * 8 * 8  # 2 updates of 8 steps of 8 fights
        assert 0.0 <= float(best_rate) <= 1.0
        assert 0.0 <= float(final) <= float(best_rate)
        assert float(wall) > 0
        best.append(float(best_rate))
        # The loop's own run folder, kept in the trial's folder.
        run = out / "trials" / trial / RUN_DIR
        assert (run / "training_progress.csv").is_file()
        job = json.loads((run / "job.json").read_text())
        assert job["training"]["seed"] == 3
        assert f"ctde.actor.learning_rate={job['ctde']['actor']['learning_rate']:g}" in trial_params
    assert best == sorted(best, reverse=True)
    assert (out / "results.png").read_bytes()[:8] == PNG_MAGIC
    printed = capsys.readouterr().out
    assert "| trial | algorithm | params |" in printed
    assert all(row[0] in printed for row in rows)


def test_a_comparison_trains_each_algorithm_on_the_scenario(
    ray_cluster: None, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    status = main(
        [
            "compare",
            "--algorithms",
            "mappo,rllib_ppo",
            "--scenario",
            "ambush",
            "--updates",
            "1",
            "--seeds",
            "0",
            "--config",
            tiny_config(),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    rows = table_rows(out / "results.md")
    assert sorted(row[1] for row in rows) == ["mappo", "rllib_ppo"]
    for row in rows:
        assert row[4] == "1"
        assert int(row[5]) > 0
        # Held-out evaluations of both.
        assert row[6] != "-"
        assert row[7] != "-"
    assert "ambush" in (out / "results.md").read_text()
    assert (out / "results.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["sweep", "--algorithm", "mappo", "--param", "algorithm.learning_rat=1e-3,3e-3"],
            "algorithm.learning_rat",
        ),
        (["sweep", "--algorithm", "mappo", "--param", "ctd.actor.learning_rate=1e-3"], "ctd"),
        (["compare", "--algorithms", "mappo,rllib_ppx"], "unknown algorithm 'rllib_ppx'"),
        (["compare", "--algorithms", "mappo,cql"], "offline"),
        (["sweep", "--algorithm", "mappo", "--param", "training.seed=1,2"], "--seed"),
    ],
)
def test_a_bad_parameter_or_algorithm_fails_before_any_trial(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--updates", "1", "--out", str(tmp_path / "never")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    assert time.perf_counter() - started < 5


def test_values_split_outside_brackets_and_bad_values_name_the_trial() -> None:
    assert parse_param("ctde.critic.hidden_dims=[32,32],[64,64]") == (
        "ctde.critic.hidden_dims",
        [[32, 32], [64, 64]],
    )
    assert parse_param("algorithm.activation=relu,tanh") == (
        "algorithm.activation",
        ["relu", "tanh"],
    )
    with pytest.raises(TuneError, match=r"section\.key=value"):
        parse_param("lr=1e-3")
    with pytest.raises(TuneError, match=r"trial 01_lr=-1.*algorithm.lr"):
        plan(["rllib_ppo"], [0], [parse_param("algorithm.lr=1e-3,-1")])


def test_a_failing_trial_is_listed_and_fails_the_command(ray_cluster: None, tmp_path: Path) -> None:
    """n_envs=0 passes the config's parsing and fails in the simulator, inside its trial: the
    other trial still runs, the failed one has its row and its error, the exit status is 1."""
    out = tmp_path / "failing"
    argv = ["sweep", "--algorithm", "mappo", "--param", "training.n_envs=0,4", "--updates", "1"]
    status = main([*argv, "--config", tiny_config(), "--out", str(out), "--quiet"])
    assert status == 1
    rows = {row[0]: row for row in table_rows(out / "results.md")}
    assert set(rows) == {"00_n_envs=0 (failed)", "01_n_envs=4"}
    assert rows["00_n_envs=0 (failed)"][6] == "-"
    assert rows["01_n_envs=4"][4] == "1"
    assert "n_envs and max_steps must be >= 1" in (out / "results.md").read_text()
