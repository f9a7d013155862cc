"""`python -m models.training`: train one algorithm without the database, into a run folder.

    python -m models.training --algorithm mappo --updates 200 --out runs/mappo
    python -m models.training --algorithm qmix --config job.json --out runs/qmix \\
        --success-threshold 0.7 --success-streak 3 --eval-every 10
    python -m models.training --algorithm mappo --updates 400 --out runs/mappo --resume \\
        runs/mappo/checkpoints/checkpoint_81920

`--config` is a training job's config (a JSON file or a JSON object: the "ctde", "advanced",
"training" and "algorithm" sections of ml_training_jobs.config, read as strictly as the worker
reads them, models/training/job.py); the flags override its "training" keys. The run folder is the
loop's (training_progress.csv, tensorboard/, latest.pt, best.pt, checkpoints/); a run folder that
holds a latest.pt is resumed, `--resume` resumes from any checkpoint instead. After training, the
final weights are evaluated, exported and verified into OUT/export/ (ONNX files, metadata.json,
README.txt: models/training/export_folder.py); nothing is registered.

Ctrl+C finishes the update under way, saves (latest.pt and a checkpoints/checkpoint_<steps>/) and
exits with status 130; a second Ctrl+C stops at once. Exit status 1: the export failed its checks
(the folder is written and says why); 2: a bad argument or config.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.training_jobs import TrainingConfigError
from models.algorithms.registry import ALGORITHMS
from models.training.checkpoints import CheckpointError
from models.training.job import agreement_inputs, command_job_config, parse_job_config
from models.training.loop import LATEST, Trainer

log = logging.getLogger("models.training")

#: flag -> the "training" key it sets.
TRAINING_FLAGS = {
    "updates": "total_updates",
    "time_budget": "time_budget_s",
    "seed": "seed",
    "model_type": "model_type",
    "environment": "environment",
    "eval_every": "eval_every",
    "patience": "early_stopping_patience",
    "success_threshold": "success_threshold",
    "success_streak": "success_streak",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m models.training",
        description="Train one algorithm on the simulator into a run folder, then export it.",
    )
    p.add_argument("--algorithm", default="mappo", choices=sorted(ALGORITHMS))
    p.add_argument("--out", required=True, type=Path, help="the run folder")
    p.add_argument("--config", help="a training job's config: a JSON file or a JSON object")
    p.add_argument("--resume", type=Path, help="a checkpoint file or checkpoint directory")
    p.add_argument("--updates", type=int, help="training.total_updates")
    p.add_argument("--time-budget", type=float, help="training.time_budget_s (seconds)")
    p.add_argument("--seed", type=int, help="training.seed")
    p.add_argument("--model-type", help="training.model_type (pack_coordination, combat)")
    p.add_argument("--environment", help="training.environment (contract, pack)")
    p.add_argument("--eval-every", type=int, help="training.eval_every (updates)")
    p.add_argument("--patience", type=int, help="training.early_stopping_patience")
    p.add_argument("--success-threshold", type=float, help="training.success_threshold")
    p.add_argument("--success-streak", type=int, help="training.success_streak")
    p.add_argument("--no-export", action="store_true", help="train only")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    return p


def job_config(args: argparse.Namespace) -> dict[str, Any]:
    """The job config --config gives, with the flags' "training" keys over it."""
    return command_job_config(args, TRAINING_FLAGS)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    # The product's own progress at INFO; third-party libraries' chatter (the INT8 quantizer's)
    # at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("models").setLevel(logging.INFO)
    try:
        config, settings, hyperparameters = parse_job_config(job_config(args), args.algorithm)
    except (TrainingConfigError, json.JSONDecodeError, OSError) as exc:
        p.error(str(exc))
    out: Path = args.out
    trainer = Trainer(args.algorithm, config, settings, hyperparameters=hyperparameters)
    try:
        trainer.train(out, resume_from=args.resume, show_progress_bar=args.progress)
    except KeyboardInterrupt:
        print(
            f"interrupted at update {trainer.training_step}: saved in {out / LATEST}; "
            f"continue with --out {out} (or --resume {out})",
            file=sys.stderr,
        )
        return 130
    except CheckpointError as exc:
        p.error(str(exc))
    if args.no_export:
        return 0
    try:
        from models.export.onnx import export_actor
        from models.training.export_folder import write_export_folder

        evaluation = trainer.evaluation()
        exported = export_actor(trainer.algorithm.actor, agreement_inputs=agreement_inputs(trainer))
        meta = write_export_folder(
            trainer,
            exported,
            out / "export",
            evaluation=evaluation,
            extra={"command": ["python", "-m", "models.training", *(argv or sys.argv[1:])]},
        )
    except KeyboardInterrupt:
        print(
            f"interrupted while exporting; the training is saved in {out}: run again with "
            f"--out {out} to export",
            file=sys.stderr,
        )
        return 130
    score = trainer.env.score_name
    value = evaluation.get(score, float("nan"))
    checks = meta["onnx"]["checks"]
    print(
        f"{args.algorithm}: {trainer.training_step} updates, {trainer.env_steps} env steps, "
        f"stopped by {trainer.history.stop_reason}; {score} {value:.3f} "
        f"on {int(evaluation.get('episodes', 0))} held-out episodes; export {out / 'export'} "
        + ("(ONNX checks passed)" if checks["passed"] else f"REJECTED: {checks['rejection']}")
    )
    return 0 if checks["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
