"""The zoo's pipeline from the command line, one step per command, over the selected models:

    python -m models.zoo collect  --all --samples-per-archetype 10000
    python -m models.zoo train    --all --profile small
    python -m models.zoo train    --archetypes mage --model-types sac --source-archetype ranged
    python -m models.zoo evaluate --all --num-episodes 100 --save-report runs/zoo/report.json
    python -m models.zoo export   --all --verify
    python -m models.zoo deploy   --all            # refuses models below their bar; --force
    python -m models.zoo report   --all            # the stored reports as one table

Steps read and write runs/zoo/<profile>/<archetype>/<model_type>/ (models/zoo/store.py); deploy
writes the registry of the database DATABASE_URL names (or --database-url).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.zoo.base import PROFILES, ZooSettings
from models.zoo.store import DEFAULT_ROOT, ModelDir
from models.zoo.validation import table
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import ZOO_TYPES

COMMANDS = ("collect", "train", "evaluate", "export", "deploy", "report")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m models.zoo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--all", action="store_true", help="every archetype and model type")
    parser.add_argument("--archetypes", nargs="+", choices=ARCHETYPES, default=None)
    parser.add_argument("--model-types", nargs="+", choices=list(ZOO_TYPES), default=None)
    parser.add_argument("--profile", choices=PROFILES, default="small")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--samples-per-archetype", type=int, default=None)
    parser.add_argument("--num-episodes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=0, help="optimizer steps")
    parser.add_argument("--keep-checkpoints", type=int, default=3)
    parser.add_argument(
        "--source-archetype",
        choices=ARCHETYPES,
        default=None,
        help="train: start from this archetype's trained model (transfer)",
    )
    parser.add_argument("--save-report", type=Path, default=None, help="evaluate/report: JSON")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="export: run the written files again against the trained module",
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="export: ONNX Runtime's portable graph optimizations, offline",
    )
    parser.add_argument("--fp32", action="store_true", help="export: the FP32 file only")
    parser.add_argument(
        "--force", action="store_true", help="deploy: deploy models below their validation bar too"
    )
    parser.add_argument("--progress", action="store_true", help="a progress line while training")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if not args.all and args.archetypes is None and args.model_types is None:
        parser.error("name --all, or --archetypes and/or --model-types")
    return args


def selected(args: argparse.Namespace) -> list[ModelDir]:
    archetypes = args.archetypes or list(ARCHETYPES)
    types = args.model_types or list(ZOO_TYPES)
    return [ModelDir(args.root, args.profile, a, t) for a in archetypes for t in types]


def settings_of(args: argparse.Namespace) -> ZooSettings:
    return ZooSettings(
        profile=args.profile,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        samples_per_archetype=args.samples_per_archetype,
        num_episodes=args.num_episodes,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        progress=args.progress,
    )


def label(where: ModelDir) -> str:
    return f"{where.archetype:10s} {where.model_type:20s}"


def run(args: argparse.Namespace) -> int:
    from models.zoo import pipeline  # torch and the tasks load only for a command

    settings = settings_of(args)
    models = selected(args)
    reports: list[dict[str, Any]] = []
    failures = 0
    conn = None
    if args.command == "deploy":
        import psycopg

        from config.settings import load_settings

        conn = psycopg.connect(args.database_url or load_settings().admin_url)
    for where in models:
        started = time.monotonic()
        try:
            line = step(args, pipeline, where, settings, conn, reports)
        except (FileNotFoundError, RuntimeError, ValueError) as error:
            failures += 1
            print(f"{label(where)} FAILED: {error}", flush=True)
            continue
        print(f"{label(where)} {line} ({time.monotonic() - started:.1f} s)", flush=True)
    if reports:
        print(table(reports))
        if args.save_report is not None:
            args.save_report.parent.mkdir(parents=True, exist_ok=True)
            args.save_report.write_text(json.dumps(reports, indent=1, default=float))
    if conn is not None:
        conn.close()
    return 1 if failures else 0


def step(
    args: argparse.Namespace,
    pipeline: Any,
    where: ModelDir,
    settings: ZooSettings,
    conn: Any,
    reports: list[dict[str, Any]],
) -> str:
    if args.command == "collect":
        data = pipeline.collect(where, settings)
        rows = len(next(iter(data.values()))) if data else 0
        return f"collected {rows} samples" if data else "learns by acting: nothing to collect"
    if args.command == "train":
        source = None
        if args.source_archetype is not None:
            source = ModelDir(args.root, args.profile, args.source_archetype, where.model_type)
        trained = pipeline.train(where, settings, source)
        return f"trained: {trained.samples} samples, {pipeline.parameters(trained.module):,} params"
    if args.command == "evaluate":
        found = pipeline.evaluate(where, settings)
        reports.append(found)
        return "meets its bar" if found["passed"] else "below its bar"
    if args.command == "report":
        stored = where.read_json("report.json")
        if stored is None:
            raise FileNotFoundError(f"{where.path} has no report: run evaluate first")
        reports.append(stored)
        return "meets its bar" if stored["passed"] else "below its bar"
    if args.command == "export":
        exported = pipeline.export(where, settings, fp32_only=args.fp32, optimize=args.optimize)
        sizes = ", ".join(f"{p} {len(b) / 1024:.0f} KiB" for p, b in exported.files.items())
        if args.verify:
            verify(pipeline, where, settings)
            sizes += "; verified"
        return f"exported {sizes}"
    from models.zoo.registry import deploy

    done = deploy(conn, where, force=args.force)
    if done.refused:
        return f"refused: {done.refused}"
    forced = f" (forced; failed: {'; '.join(done.failed)})" if done.failed else ""
    return f"deployed model {done.model_id} v{done.version}{forced}"


def verify(pipeline: Any, where: ModelDir, settings: ZooSettings) -> None:
    """The written files, read back, against the trained module on fresh inputs."""
    import torch

    from models.zoo.export import PARITY_ATOL, ZooExportError, run_onnx

    module = where.load_module()
    examples = pipeline.serving_examples(where, 128, settings.seed + 23)
    with torch.no_grad():
        reference = module(torch.as_tensor(examples)).numpy()
    got = run_onnx(where.file("model.fp32.onnx").read_bytes(), examples)
    worst = float(np.abs(got - reference).max())
    if not worst <= PARITY_ATOL:
        raise ZooExportError(f"{where.path}/model.fp32.onnx differs from torch by {worst:.3g}")


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
