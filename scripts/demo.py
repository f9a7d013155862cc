"""`make demo`: the product end to end (grows with each capability; see README)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from config.settings import load_settings
from scripts.health import print_health


def start_worker() -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-m", "worker"], env=env)


def main() -> int:
    settings = load_settings()
    print("== database health ==")
    print_health(settings.admin_url)
    print("\n== worker ==")
    worker = start_worker()
    time.sleep(3.0)
    alive = worker.poll() is None
    print(f"python -m worker: {'running' if alive else f'exited with {worker.returncode}'}")
    worker.terminate()
    worker.wait(timeout=60)
    print(f"stopped cleanly: exit code {worker.returncode}")
    return 0 if alive and worker.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
