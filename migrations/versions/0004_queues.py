"""Inference and training job queues, the decision API, gateway answering, worker diagnostics.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0004"
down_revision = "0003"
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
