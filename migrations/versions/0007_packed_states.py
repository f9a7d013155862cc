"""Packed states: decision requests may carry their states as float32 bytes, stored and claimed as
they came; the typed and packed requests share one body (ml.submit_decision_job). A batch's pack
keys and signal entries are found set-based (one index scan per table over the batch).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from migrations.objects import downgrade_objects, upgrade_objects

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "tables/inference_jobs_packed_states.sql",
    "functions/pack_keys_of_batch.sql",
    "functions/signals_received_by_batch.sql",
    "functions/submit_decision_job.sql",
    "functions/request_pack_actions_packed.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
