"""The history of the product's pg_cron jobs is kept jobs.history_seconds, then deleted
(ml.purge_job_history, every minute by pg_cron): pg_cron keeps every run forever.

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
    "functions/purge_job_history.sql",
    "jobs/purge_job_history_every_minute.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(OBJECTS, PLPYTHON_MODULES)
    load_config_sections(["jobs"])


def downgrade() -> None:
    downgrade_objects(OBJECTS, PLPYTHON_MODULES)
