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
OBJECTS: list[str] = [
    "tables/inference_jobs.sql",
    "tables/ml_training_jobs.sql",
    "tables/workers.sql",
    "tables/legacy_action_map.sql",
    "functions/notify_jobs.sql",
    "functions/enqueue_gateway_requests.sql",
    "functions/request_pack_actions_typed.sql",
    "functions/request_pack_actions.sql",
    "functions/decision_payload.sql",
    "functions/decision_result.sql",
    "functions/cancel_decision.sql",
    "functions/notify_model_change.sql",
    "functions/submit_training.sql",
    "views/queue_depth.sql",
    "views/job_throughput.sql",
    "views/job_failures.sql",
    "views/worker_status.sql",
    "views/deployed_models.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
