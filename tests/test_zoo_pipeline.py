"""The zoo's pipeline and serving, for all nine model types, against the real server: each type
is trained at the tiny profile on its real task, evaluated, exported by the real exporter,
registered and deployed, then asked through ml.ask_model as the game server asks.

What each bad input to ml.ask_model gets (nothing is decided or written): a null argument 22004;
archetypes not one-dimensional or inputs not two-dimensional ML008; more rows than
limits.request_monsters or more floats than limits.ask_model_floats ML009; an unknown model type
or archetype 22P02; rows that disagree in number, or inputs of another width, ML005; an input
NaN or infinite ML004; a type without a deployed model for an archetype ML012. A deploy below
the validation bar gets ML013 naming each failed criterion, unless forced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from models.zoo import pipeline
from models.zoo.__main__ import main as zoo_main
from models.zoo.base import ZooSettings
from models.zoo.export import answers, run_onnx
from models.zoo.registry import deploy
from models.zoo.store import ModelDir
from plpython.zoo_types import ZOO_TYPES
from tests.test_training_job import job_row, training_worker
from tests.worker_helpers import wait_until

ARCHETYPE = "tank"
ASK = "SELECT * FROM ml.ask_model(%s, %s::text[], %s::real[], %s::integer[], %s)"
TINY = ZooSettings(profile="tiny", seed=3)


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All nine types for one archetype through train, evaluate and export at the tiny profile,
    by the command line a user runs."""
    root = tmp_path_factory.mktemp("zoo")
    for command in ("train", "evaluate", "export"):
        args = [command, "--archetypes", ARCHETYPE, "--all", "--profile", "tiny"]
        args += ["--root", str(root), "--seed", "3"]
        if command == "export":
            args.append("--verify")
        assert zoo_main(args) == 0
    return root


def where(root: Path, model_type: str) -> ModelDir:
    return ModelDir(root, "tiny", ARCHETYPE, model_type)


def ask(
    conn: Any,
    model_type: str,
    inputs: np.ndarray,
    archetypes: list[str] | None = None,
    monsters: list[int] | None = None,
    notify: bool = False,
) -> list[dict[str, Any]]:
    cur = conn.execute(
        ASK,
        (model_type, archetypes or [ARCHETYPE] * len(inputs), inputs.tolist(), monsters, notify),
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def served_file(model: ModelDir) -> bytes:
    files = pipeline.load_export(model)
    return files[pipeline.served_precision(files)]


@pytest.mark.parametrize("model_type", list(ZOO_TYPES))
def test_every_type_trains_evaluates_and_exports_with_parity(
    zoo_root: Path, model_type: str
) -> None:
    """The written FP32 file computes what the trained module computes on the task's own inputs,
    every reduced-precision file kept agrees with it, and the report holds every criterion that
    applies to the type (acting models their win rate against the traditional AI)."""
    model = where(zoo_root, model_type)
    report = model.read_json("report.json")
    exported = model.read_json("export.json")
    assert report is not None
    assert exported is not None
    assert exported["parity_max_abs_error"] <= 1e-4
    names = {c["name"] for c in report["criteria"]}
    assert "latency_p95_ms" in names
    if ZOO_TYPES[model_type].acts:
        assert "win_rate" in names
        assert report["evaluation"]["baseline_win_rate"] is not None
    for precision in ("fp16", "int8"):
        kept = model.file(f"model.{precision}.onnx").exists()
        assert kept == ("dropped" not in exported[precision])
    module = model.load_module()
    examples = pipeline.serving_examples(model, 64, seed=99)
    import torch

    with torch.no_grad():
        reference = module(torch.as_tensor(examples)).numpy()
    np.testing.assert_allclose(
        run_onnx(model.file("model.fp32.onnx").read_bytes(), examples), reference, atol=1e-4
    )


@pytest.mark.parametrize("model_type", list(ZOO_TYPES))
def test_every_type_is_served_by_ask_model(
    zoo_root: Path, model_type: str, db_url: str, game: Any
) -> None:
    """Deployed (forced: a tiny model is below the seed's bar), each type answers through
    ml.ask_model what its served file computes, with the type's answer rule."""
    model = where(zoo_root, model_type)
    spec = ZOO_TYPES[model_type]
    with psycopg.connect(db_url) as conn:
        done = deploy(conn, model, force=True)
    assert done.deployed
    inputs = pipeline.task(model_type).example_inputs(ARCHETYPE, 5, seed=5)
    rows = ask(game, model_type, inputs)
    feed = pipeline.serving_examples(model, 5, seed=5)
    hidden = pipeline.hidden_dim(model)
    if hidden:
        feed[:, spec.input_dim :] = 0.0  # without monster ids a recurrent model starts from zeros
    expected = run_onnx(served_file(model), feed)[:, : spec.output_dim]
    got = np.asarray([r["outputs"] for r in rows], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert [r["row_index"] for r in rows] == [1, 2, 3, 4, 5]
    assert {r["model_version"] for r in rows} == {done.version}
    rule = answers(spec, expected)
    assert [r["answer"] for r in rows] == (rule.tolist() if rule is not None else [None] * 5)


def test_a_recurrent_model_continues_each_monsters_state(
    zoo_root: Path, db_url: str, game: Any, admin: Any
) -> None:
    """team_coordination with monster ids: the second tick starts from the state the first left,
    kept in ml.monster_memory; without ids nothing is kept."""
    model = where(zoo_root, "team_coordination")
    spec = ZOO_TYPES["team_coordination"]
    with psycopg.connect(db_url) as conn:
        done = deploy(conn, model, force=True)
    hidden = pipeline.hidden_dim(model)
    assert hidden > 0
    inputs = pipeline.task("team_coordination").example_inputs(ARCHETYPE, 3, seed=8)
    monsters = [501, 502, 503]
    session = run_onnx  # the served file, run here as the database runs it
    state = np.zeros((3, hidden), np.float32)
    served = served_file(model)
    for _ in range(2):
        rows = ask(game, "team_coordination", inputs, monsters=monsters)
        out = session(served, np.concatenate([inputs, state], axis=1))
        np.testing.assert_allclose(
            [r["outputs"] for r in rows], out[:, : spec.output_dim], rtol=1e-4, atol=1e-5
        )
        state = out[:, spec.output_dim :]
    kept = admin.execute(
        "SELECT count(*) FROM ml.monster_memory WHERE model_id = %s", (done.model_id,)
    ).fetchone()[0]
    assert kept == 3


def test_answers_go_out_on_the_decisions_channel(
    zoo_root: Path, db_url: str, game: Any, listener: Any
) -> None:
    with psycopg.connect(db_url) as conn:
        deploy(conn, where(zoo_root, "combat_dqn"), force=True)
    listener.execute("LISTEN ml_decisions")
    inputs = pipeline.task("combat_dqn").example_inputs(ARCHETYPE, 2, seed=1)
    rows = ask(game, "combat_dqn", inputs, monsters=[7, 8], notify=True)
    note = next(listener.notifies(timeout=5, stop_after=1))
    payload = json.loads(note.payload)
    assert payload["kind"] == "zoo"
    assert payload["model_type"] == "combat_dqn"
    assert payload["monster_ids"] == [7, 8]
    assert payload["answers"] == [r["answer"] for r in rows]


def test_a_deploy_below_the_bar_is_refused_naming_the_criteria(
    zoo_root: Path, db_url: str, admin: Any
) -> None:
    """A tiny combat model misses the seed's win-rate bar: deploying it is ML013 with the failed
    criteria, by ml.deploy_model and by a plain UPDATE alike; nothing is retired; force deploys it
    and records what it failed."""
    model = where(zoo_root, "combat_dqn")
    report = model.read_json("report.json")
    assert report is not None
    assert not report["passed"]
    with psycopg.connect(db_url) as conn:
        refused = deploy(conn, model)
    assert not refused.deployed
    assert refused.refused is not None
    assert "below its validation bar" in refused.refused
    assert any(line.startswith("win_rate") for line in refused.failed)
    with pytest.raises(psycopg.Error) as caught:
        admin.execute(
            "UPDATE ml.ml_models SET is_deployed = true WHERE id = %s", (refused.model_id,)
        )
    assert caught.value.sqlstate == "ML013"
    assert "win_rate" in str(caught.value)
    with psycopg.connect(db_url) as conn:
        forced = deploy(conn, model, force=True)
    assert forced.deployed
    assert forced.failed == refused.failed
    metrics = admin.execute(
        "SELECT metrics FROM ml.ml_models WHERE id = %s", (forced.model_id,)
    ).fetchone()[0]
    assert metrics["deployed_forced"] == refused.failed
    assert metrics["validation"]["criteria"] == report["criteria"]


def sqlstate(conn: Any, *args: Any) -> str | None:
    try:
        conn.execute(ASK, args)
    except psycopg.Error as error:
        conn.rollback() if not conn.autocommit else None
        return error.sqlstate
    return None


def test_bad_requests_get_their_sqlstates(zoo_root: Path, db_url: str, game: Any) -> None:
    with psycopg.connect(db_url) as conn:
        deploy(conn, where(zoo_root, "threat_assessment"), force=True)
    good = np.zeros((2, ZOO_TYPES["threat_assessment"].input_dim), np.float32).tolist()
    t = "threat_assessment"
    two = [ARCHETYPE, ARCHETYPE]
    assert sqlstate(game, t, two, good, None, False) is None
    assert sqlstate(game, None, two, good, None, False) == "22004"
    assert sqlstate(game, t, two, None, None, False) == "22004"
    assert sqlstate(game, "no_such_type", two, good, None, False) == "22P02"
    assert sqlstate(game, t, ["tank", "dragon"], good, None, False) == "22P02"
    assert sqlstate(game, t, [["tank"], ["tank"]], good, None, False) == "ML008"
    assert sqlstate(game, t, two, good[0], None, False) == "ML008"
    assert sqlstate(game, t, ["tank"], good, None, False) == "ML005"
    assert sqlstate(game, t, two, [row[:-1] for row in good], None, False) == "ML005"
    assert sqlstate(game, t, two, good, [1], False) == "ML005"
    assert sqlstate(game, t, two, good, [1, None], False) == "22004"
    assert sqlstate(game, t, [], [], None, False) == "ML005"
    nan = [row.copy() for row in good]
    nan[1][3] = float("nan")
    assert sqlstate(game, t, two, nan, None, False) == "ML004"
    with_null: list[list[float | None]] = [list(row) for row in good]
    with_null[0][0] = None
    assert sqlstate(game, t, two, with_null, None, False) == "22004"
    many = ["tank"] * 1025
    assert sqlstate(game, t, many, [[0.0] for _ in many], None, False) == "ML009"
    wide = np.zeros((1, 4194305), np.float32).tolist()
    assert sqlstate(game, t, ["tank"], wide, None, False) == "ML009"
    assert sqlstate(game, "pattern_recognition", ["mage"], [[0.0] * 192], None, False) == "ML012"


def test_a_new_deploy_is_noticed_by_the_next_ask(zoo_root: Path, db_url: str, game: Any) -> None:
    """A new deploy of the same type is answered by the new version in the same connection's
    next ask (the backend drops the model it had loaded)."""
    model = where(zoo_root, "sac")
    with psycopg.connect(db_url) as conn:
        first = deploy(conn, model, force=True)
    inputs = pipeline.task("sac").example_inputs(ARCHETYPE, 1, seed=2)
    assert ask(game, "sac", inputs)[0]["model_version"] == first.version
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE ml.ml_models SET version = 'sac-2', onnx_sha256 = 'x' WHERE id = %s",
            (first.model_id,),
        )
        conn.commit()
        again = deploy(conn, model, force=True)  # registers the same file anew, deploys it
    assert again.model_id != first.model_id
    assert ask(game, "sac", inputs)[0]["model_version"] == again.version


def test_a_zoo_model_trains_from_a_sql_training_job(
    worker_url: str, admin: Any, tmp_path: Path
) -> None:
    """A row of ml_training_jobs naming a zoo type runs the zoo's pipeline in the worker's training
    runner and registers the model with its report, not deployed; a key the zoo does not take
    fails the job at once, naming it."""
    config = {"training": {"model_type": "threat_assessment", "profile": "tiny", "seed": 1}}
    bad = {"training": {"model_type": "threat_assessment", "total_updates": 3}}
    jobs = [
        admin.execute(
            "INSERT INTO ml_training_jobs (archetype, config) VALUES ('mage', %s) RETURNING id",
            (json.dumps(c),),
        ).fetchone()[0]
        for c in (config, bad)
    ]
    with training_worker(worker_url, tmp_path):
        assert wait_until(
            lambda: {job_row(admin, j)["status"] for j in jobs} == {"done", "failed"},
            timeout_s=240,
        )
    done, failed = (job_row(admin, j) for j in jobs)
    assert done["status"] == "done"
    assert failed["status"] == "failed"
    assert "training.total_updates" in failed["error"]
    model = admin.execute(
        "SELECT archetype, model_type, is_deployed, metrics -> 'validation' ->> 'passed', "
        "training_status FROM ml_models WHERE id = %s",
        (done["model_id"],),
    ).fetchone()
    passed = done["result"]["passed"]
    status = "validated" if passed else "trained"
    assert model == ("mage", "threat_assessment", False, str(passed).lower(), status)


def test_transfer_starts_from_another_archetypes_model(zoo_root: Path) -> None:
    """--source-archetype: mage's sac starts from tank's trained sac, and says so in train.json;
    a source that was never trained fails that model (the command exits 1)."""
    args = ["train", "--archetypes", "mage", "--model-types", "sac", "--profile", "tiny"]
    args += ["--root", str(zoo_root)]
    assert zoo_main([*args, "--source-archetype", "tank"]) == 0
    trained = ModelDir(zoo_root, "tiny", "mage", "sac").read_json("train.json")
    assert trained is not None
    assert trained["source_archetype"] == "tank"
    assert zoo_main([*args, "--source-archetype", "ranged"]) == 1
