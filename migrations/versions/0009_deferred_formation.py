"""A sync re-forms the maps of its update and its insert together, after both (no deadlock with
pg_cron's formation): ml.form_or_defer_packs, called by the ml.monsters triggers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = ["functions/form_or_defer_packs.sql"]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
