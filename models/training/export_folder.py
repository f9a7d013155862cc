"""A trained run's final export folder: what to hand to whoever deploys it.

    export/
        actor.onnx, actor.fp16.onnx, actor.int8.onnx   the verified files (docs/onnx_contract.md)
        metadata.json     algorithm, model type, dims, updates, env steps, evaluation, ONNX checks,
                          settings, created_at, versions (machine-readable)
        README.txt        the same for a person: what the model is, how it was trained, what it
                          scored, how to deploy it from SQL

`run_training_job` writes one in the job's checkpoint directory (the model is registered in
ml_models already); `python -m models.training` in its run folder (not registered:
`read_export_folder` gives back the ExportedActor that `register_actor_sync` takes).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import textwrap
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from config.model_types import ACTION_DIMS, COMBAT, PACK_COORDINATION
from models.export.onnx import ExportedActor, ExportRejectedError
from models.training.loop import Trainer

ONNX_NAME = "actor.onnx"
METADATA_NAME = "metadata.json"
README_NAME = "README.txt"
FOLDER_FORMAT = 1
WIDTH = 92
PACKAGES = ("ragnarok-ml", "torch", "numpy", "onnx", "onnxruntime")

MODEL_DESCRIPTIONS = {
    PACK_COORDINATION: (
        "the pack actor: one monster's 64-float state, its pack's 32-float signal vector and "
        "its own GRU memory in, probabilities of the 7 pack actions out (each runs through its "
        "recipe over the game server's 10 primitives, docs/pack_recipes.md)"
    ),
    COMBAT: (
        "the legacy gateway's combat policy: the game server's 64-float state in, "
        "probabilities of its 10 executable actions and DEFER out (no GRU memory, no signals; "
        "config/model_types.py)"
    ),
}


def write_export_folder(
    trainer: Trainer,
    exported: ExportedActor,
    directory: str | Path,
    *,
    evaluation: Mapping[str, float] | None = None,
    registration: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the three ONNX files, metadata.json and README.txt into `directory`; returns the
    metadata. `evaluation`: the final evaluation of the exported weights (`Trainer.evaluation`);
    `registration`: where the model is registered ({"version", "archetypes", "model_ids",
    "training_status"}), absent when it is not; `extra`: more plain values for metadata.json."""
    folder = Path(directory)
    paths = exported.write(folder / ONNX_NAME)
    try:
        exported.check_thresholds()
        rejection = None
    except ExportRejectedError as exc:
        rejection = str(exc)
    meta = export_metadata(trainer, exported, paths, evaluation, registration, rejection, extra)
    (folder / METADATA_NAME).write_text(
        json.dumps(_plain(meta), indent=2, sort_keys=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    (folder / README_NAME).write_text(readme_text(meta), encoding="utf-8")
    return meta


def read_export_folder(directory: str | Path) -> ExportedActor:
    """The ExportedActor an export folder holds (to register it: `register_actor_sync(conn,
    read_export_folder(path), archetype=..., version=..., model_type=...)`); ValueError when a
    file's sha256 is not the one metadata.json recorded."""
    folder = Path(directory)
    meta = json.loads((folder / METADATA_NAME).read_text(encoding="utf-8"))
    files: dict[str, bytes] = {}
    for precision, entry in meta["onnx"]["files"].items():
        data = (folder / entry["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"{folder / entry['file']}: sha256 differs from {METADATA_NAME}")
        files[precision] = data
    dims = meta["dims"]
    return ExportedActor(
        onnx_fp32=files["fp32"],
        onnx_fp16=files["fp16"],
        onnx_int8=files["int8"],
        state_dim=dims["state_dim"],
        signal_dim=dims["signal_dim"],
        action_dim=dims["action_dim"],
        hidden_dim=dims["hidden_dim"],
        metrics=meta["onnx"]["metrics"],
    )


def export_metadata(
    trainer: Trainer,
    exported: ExportedActor,
    paths: Mapping[str, Path],
    evaluation: Mapping[str, float] | None,
    registration: Mapping[str, Any] | None,
    rejection: str | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """metadata.json's content (before non-finite floats become null)."""
    s = trainer.settings
    info = trainer.algorithm.info
    onnx = exported.metrics.get("onnx", {})
    higher = getattr(trainer.env, "score_higher_is_better", True)
    best = trainer.best_score if higher else -trainer.best_score
    return {
        "format": FOLDER_FORMAT,
        "algorithm": info.name,
        "algorithm_title": info.title,
        "model_type": s.model_type,
        "environment": s.environment if trainer.env_factory is None else type(trainer.env).__name__,
        "scenario": s.scenario,
        "dims": {
            "state_dim": exported.state_dim,
            "signal_dim": exported.signal_dim,
            "action_dim": exported.action_dim,
            "hidden_dim": exported.hidden_dim,
        },
        "algorithm_dims": trainer.algorithm.dims(),
        "updates": trainer.training_step,
        "env_steps": trainer.env_steps,
        "stop_reason": trainer.history.stop_reason,
        "evaluation": {
            "score_name": trainer.env.score_name,
            "score_higher_is_better": higher,
            "final": dict(evaluation) if evaluation is not None else None,
            "best_during_training": best if trainer.history.evaluations else None,
            "evaluations_during_training": len(trainer.history.evaluations),
            "episodes_seed": s.eval_seed,
        },
        "onnx": {
            "files": {
                precision: {
                    "file": path.name,
                    "bytes": len(exported.file(precision)),
                    "sha256": hashlib.sha256(exported.file(precision)).hexdigest(),
                }
                for precision, path in paths.items()
            },
            "checks": {
                "passed": rejection is None,
                "rejection": rejection,
                "fp32_max_abs_error_probs": onnx.get("fp32", {}).get("max_abs_error_probs"),
                "fp16_action_agreement": onnx.get("fp16", {}).get("action_agreement"),
                "int8_action_agreement": onnx.get("int8", {}).get("action_agreement"),
            },
            "metrics": exported.metrics,
        },
        "registration": dict(registration) if registration is not None else None,
        "settings": asdict(s),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        **dict(extra or {}),
    }


def versions() -> dict[str, str | None]:
    """Python's and the installed packages' versions (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            found[name] = None
    return found


def readme_text(meta: Mapping[str, Any]) -> str:
    """README.txt: the metadata for a person."""
    model_type = meta["model_type"]
    dims = meta["dims"]
    files = meta["onnx"]["files"]
    checks = meta["onnx"]["checks"]
    settings = meta["settings"]
    title = f"{model_type} model trained with {meta['algorithm'].upper()}"
    what = MODEL_DESCRIPTIONS.get(
        model_type, f"an actor of model type {model_type} ({ACTION_DIMS.get(model_type)} actions)"
    )
    gru = f"GRU memory of {dims['hidden_dim']}" if dims["hidden_dim"] else "no recurrent memory"
    built = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    lines = [
        title,
        "=" * len(title),
        "",
        "What it is",
        *_para(what[0].upper() + what[1:] + "."),
        *_para(
            f"Inputs: state {dims['state_dim']} floats, signals {dims['signal_dim']} floats, "
            f"{gru}; outputs: {dims['action_dim']} action probabilities. Files: "
            f"{files['fp32']['file']} (FP32), {files['fp16']['file']} (FP16), "
            f"{files['int8']['file']} (INT8); the ONNX contract is docs/onnx_contract.md."
        ),
        "",
        "How it was trained",
        *_para(f"Algorithm: {meta['algorithm']} ({meta['algorithm_title']}), docs/algorithms.md."),
        *_para(
            f"Environment: {meta['environment']} (scenario {meta['scenario']}), "
            f"{settings['n_envs']} fights in lockstep, seed {settings['seed']}."
        ),
        *_para(
            f"{meta['updates']} updates, {meta['env_steps']:,} environment steps; it stopped "
            f"on {_stop_words(meta)}."
        ),
        *_para(f"Created {meta['created_at']} with {built}."),
        "",
        "What it scored",
        *_score_lines(meta["evaluation"]),
        *_para(
            "ONNX checks: "
            + (
                f"passed (FP32 max error {_num(checks['fp32_max_abs_error_probs'], '.1e')} "
                f"<= 1e-5; FP16 agreement {_pct(checks['fp16_action_agreement'])}, INT8 "
                f"agreement {_pct(checks['int8_action_agreement'])}, both >= 99%)."
                if checks["passed"]
                else f"REJECTED: {checks['rejection']}. The registry refuses these files."
            )
        ),
        "",
        "How to deploy it",
        *_deploy_lines(meta),
        "",
    ]
    return "\n".join(lines)


def _para(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def _stop_words(meta: Mapping[str, Any]) -> str:
    s = meta["settings"]
    score = meta["evaluation"]["score_name"]
    return {
        "total_updates": f"reaching total_updates ({s['total_updates']})",
        "time_budget": f"its time budget ({s['time_budget_s']:g} s)",
        "patience": (
            f"early stopping: {s['early_stopping_patience']} evaluations without a better {score}"
        ),
        "success_streak": (
            f"a success streak: {s['success_streak']} consecutive evaluations with {score} at "
            f"{s['success_threshold']:g}"
        ),
        "interrupted": "an interruption (Ctrl+C)",
    }.get(meta["stop_reason"], meta["stop_reason"] or "an unrecorded reason")


def _score_lines(evaluation: Mapping[str, Any]) -> list[str]:
    final = evaluation["final"]
    score = evaluation["score_name"]
    if not final:
        return ["  Not evaluated after training."]
    episodes = final.get("episodes")
    where = (
        f"{int(episodes)} held-out episodes (seeds from {evaluation['episodes_seed']}), "
        "deterministic play"
        if episodes
        else "held-out episodes, deterministic play"
    )
    lines = [f"  Final evaluation on {where}:"]
    if "win_rate" in final:
        lines.append(f"    win rate {_pct(final['win_rate'])}")
    if score != "win_rate" and score in final:
        better = "higher" if evaluation["score_higher_is_better"] else "lower"
        lines.append(f"    {score} {_num(final[score], '.4g')} ({better} is better)")
    others = [k for k in final if k not in ("win_rate", score, "episodes")]
    if others:
        lines += _para(", ".join(f"{k} {_num(final[k], '.4g')}" for k in others), "    ")
    if evaluation["best_during_training"] is not None:
        lines += _para(
            f"Best {score} of the {evaluation['evaluations_during_training']} evaluations "
            f"during training: {_num(evaluation['best_during_training'], '.4g')} (the exported "
            "weights are that evaluation's when the run kept a best.pt)."
        )
    return lines


def _deploy_lines(meta: Mapping[str, Any]) -> list[str]:
    model_type = meta["model_type"]
    registration = meta["registration"]
    if registration:
        version = registration["version"]
        archetypes = ", ".join(registration.get("archetypes", []))
        ids = ", ".join(str(i) for i in registration.get("model_ids", []))
        status = registration.get("training_status", "trained")
        return [
            *_para(
                f"It is registered in ml_models (schema ml) as version '{version}', model type "
                f"'{model_type}', training_status '{status}', for {archetypes} (ids {ids}). "
                "Deploy it (one UPDATE; the previously deployed model of each archetype and "
                "model type is undeployed and the workers hot-reload):"
            ),
            "",
            f"    UPDATE ml_models SET is_deployed = true WHERE version = '{version}';",
            "",
            f"  or one archetype: ... WHERE version = '{version}' AND archetype = '<archetype>';",
        ]
    return [
        "  It is not registered yet. Register it from Python (psycopg; a verified export only):",
        "",
        "    import psycopg",
        "    from models.export.registry import register_actor_sync",
        "    from models.training.export_folder import read_export_folder",
        "    with psycopg.connect(DATABASE_URL) as conn:",
        "        register_actor_sync(conn, read_export_folder('<this folder>'),",
        f"                            archetype='tank', version='v1', model_type='{model_type}')",
        "",
        "  then deploy it (the previously deployed model of that archetype and model type is",
        "  undeployed and the workers hot-reload):",
        "",
        "    UPDATE ml_models SET is_deployed = true WHERE version = 'v1';",
    ]


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if _finite(value) else "n/a"


def _num(value: Any, spec: str) -> str:
    return format(value, spec) if _finite(value) else "n/a"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _plain(value: Any) -> Any:
    """JSON-ready: non-finite floats as null, tuples as lists, numpy scalars as Python's."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
