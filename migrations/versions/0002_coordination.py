"""In-database coordination: monster state, packs, signals with TTL, coordination score, diagnostics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(OBJECTS, PLPYTHON_MODULES)
