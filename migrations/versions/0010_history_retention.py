"""History that only grew is kept for a window, then purged by pg_cron: the runs of the product's
jobs (cron.job_run_details, which pg_cron keeps forever) jobs.history_seconds, every minute
(ml.purge_job_history); the coordination logs (a row per signal sent)
signals.log_retention_seconds, every ten seconds (ml.purge_coordination_logs).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from migrations.config_rows import load_config_sections
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/purge_cutoff.sql",
    "functions/purge_job_history.sql",
    "functions/purge_coordination_logs.sql",
    "jobs/purge_job_history_every_minute.sql",
    "jobs/purge_coordination_logs_every_ten_seconds.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
    load_config_sections(["jobs", "signals.log_retention_seconds"])


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
