"""Decisions inside the database: ONNX inference in the caller's own statement (PL/Python), beside
the worker. `ml.decide_pack(...)` answers a pack in the same statement; the legacy gateway is
answered inside its INSERT when `serving.mode` says so; a monster's GRU state lives in
`ml.monster_memory`, the one recurrent memory that the worker and the inline path share
(docs/inline_serving.md).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from migrations.config_rows import load_config_sections, unload_config_keys
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "tables/model_changes.sql",
    "tables/monster_memory.sql",
    "functions/serving_mode.sql",
    "functions/gpu_worker_running.sql",
    "functions/check_inline_serving.sql",
    "functions/check_decision_job.sql",
    "functions/parse_pack_request.sql",
    "functions/read_monster_memory.sql",
    "functions/write_monster_memory.sql",
    "functions/purge_monster_memory.sql",
    "jobs/purge_monster_memory_every_minute.sql",
    "functions/decide_inline.sql",
    "functions/decide_pack_typed.sql",
    "functions/decide_pack_packed.sql",
    "functions/decide_pack_json.sql",
    "functions/answer_gateway_inline.sql",
    "functions/inline_runtime.sql",
    # Requests answered inside their INSERT have no job for the queue's purge to follow.
    "tables/ai_requests_created_idx.sql",
    "functions/purge_inline_answers.sql",
    "jobs/purge_inline_answers_every_ten_seconds.sql",
]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = [
    # Modules import one another as on the host (`from plpython.decisions import ...`).
    "schema/plpython_bootstrap.sql",
    # Deploys count in ml.model_changes, by which inline decisions notice them.
    "functions/notify_model_change.sql",
    # The request checks and the JSON parse, shared with ml.decide_pack.
    "functions/submit_decision_job.sql",
    "functions/request_pack_actions.sql",
    # Requests answered inside their INSERT are not queued.
    "functions/enqueue_gateway_requests.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = ["model_types", "pgarrays", "decisions", "inline_serving"]
#: The settings this revision adds to ml.config (config/ctde_config.yaml, section serving).
CONFIG_KEYS = ["serving.mode", "serving.memory_ttl_seconds"]


def upgrade() -> None:
    load_config_sections(["serving"])
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
    unload_config_keys(CONFIG_KEYS)
