"""The game server's 64-float state contract in the database: plpython/state_contract.py (each
dimension's group, name, meaning, range, and whether it is a constant, a copy, a complement or
discrete; the ten actions) installed as a module, ml.explain_state(state) to decode a state
dimension by dimension with its problems, and ml.state_contract_violations to count the legacy
gateway's latest requests whose states break it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "functions/explain_state_rows.sql",
    "functions/explain_state.sql",
    "functions/state_contract_problems.sql",
    "views/state_contract_violations.sql",
]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = []
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = ["state_contract"]


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
