"""Queue retention: finished decision jobs, with the legacy gateway's requests and answers, are
purged queues.retention_seconds after they finished (ml.purge_finished_decisions, every ten
seconds by pg_cron).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from migrations.config_rows import load_config_sections
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/purge_finished_decisions.sql",
    "jobs/purge_finished_decisions_every_ten_seconds.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
    load_config_sections(["queues"])


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
