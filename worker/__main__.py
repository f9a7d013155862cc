"""`python -m worker`: serve decisions (and, in a separate process, training jobs) until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from config.settings import load_settings
from worker.service import InferenceWorker
from worker.settings import settings_from_env
from worker.training_runner import RunnerSettings, start_runner_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--database-url", help="as ml_worker (default: WORKER_DATABASE_URL)")
    parser.add_argument("--no-training", action="store_true", help="serve decisions only")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = settings_from_env(args.database_url or load_settings().worker_url)
    worker = InferenceWorker(settings)
    stop_runner = None
    if settings.run_training and not args.no_training:
        runner = RunnerSettings(
            database_url=settings.database_url,
            worker_id=f"{settings.worker_id}-training",
            runs_dir=Path(settings.runs_dir),
            lease_s=settings.training_lease_s,
            heartbeat_interval_s=min(2.0, settings.training_lease_s / 3),
        )
        _, stop_runner = start_runner_process(runner)

    async def serve() -> None:
        worker.install_signal_handlers()
        await worker.run()

    try:
        asyncio.run(serve())
    finally:
        if stop_runner is not None:
            stop_runner()
    return 0


if __name__ == "__main__":
    sys.exit(main())
