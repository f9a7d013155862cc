"""Run SQL text through the real psql client, as an operator at a terminal would."""

from __future__ import annotations

import shutil
import subprocess


def run_psql(url: str, sql_text: str) -> str:
    psql = shutil.which("psql")
    assert psql, "psql (the PostgreSQL client) must be installed: apt-get install postgresql-client"
    done = subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "|", url],
        input=sql_text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout
