"""The legacy gateway's requests carry no pack and no signals: the rAthena gateway writes the mob's
type id into monster_id, so a lookup by it read whichever monster instance had that id and shared
its pack and signals with every monster of the type. ml.enqueue_gateway_requests re-applied
without the lookups; the combat model answers from the request's state alone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = []
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = ["functions/enqueue_gateway_requests.sql"]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
