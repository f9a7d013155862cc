"""Security and robustness: every function pins its search_path with pg_temp last (a pg_temp
type can no longer stand in for one the body names), PL/Python plans name schema-qualified types,
and the game server's role reaches only the API and the gateway's own columns. Every argument of
the API has a documented limit (config section `limits`, loaded into ml.config), checked before
any work: array dimensions (ML008), sizes (ML009), null ids (22004), finite and plausible numbers.

Every function is re-applied here, whatever revision created it: object files were edited in place
before revisions became immutable (migrations/objects.lock), so a database migrated when an earlier
revision was released may hold older bodies. After this revision it holds exactly head's.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from migrations.config_rows import load_config_sections
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "security/database_privileges.sql",
    "functions/guard_gateway_status.sql",
    "tables/ai_requests_gateway_columns.sql",
    "tables/ai_responses_unlinked.sql",
    "functions/abbreviate.sql",
    "functions/json_floats.sql",
    "functions/check_monster_ids.sql",
    "functions/check_decision_request.sql",
    "functions/store_pack_episode.sql",
    "security/definer_owner.sql",
    "security/advisory_locks.sql",
]
#: Object files of earlier revisions re-applied with their new definitions (restored on downgrade).
REPLACES: list[str] = [
    "schema/plpython_bootstrap.sql",
    "functions/config_number.sql",
    "functions/clock_now.sql",
    "functions/graph_time.sql",
    "functions/all_finite.sql",
    "functions/monster_vertex_properties.sql",
    "functions/monster_vertex.sql",
    "functions/is_json_integer.sql",
    "functions/monster_input_problem.sql",
    "functions/first_bad_state.sql",
    "functions/write_pack_edges.sql",
    "functions/form_packs.sql",
    "functions/form_dirty_packs.sql",
    "functions/mirror_spawned_monsters.sql",
    "functions/mirror_updated_monsters.sql",
    "functions/mirror_despawned_monsters.sql",
    "functions/upsert_monsters.sql",
    "functions/sync_monsters.sql",
    "functions/sync_monsters_typed.sql",
    "functions/despawn_monster.sql",
    "functions/get_monster_team.sql",
    "functions/pack_groups.sql",
    "functions/detect_pack_formation.sql",
    "functions/check_signal.sql",
    "functions/sweep_expired_signals.sql",
    "functions/sweep_signals_on_arrival.sql",
    "functions/expire_signals.sql",
    "functions/deliver_signal.sql",
    "functions/broadcast_signal.sql",
    "functions/send_attack_target_signal.sql",
    "functions/send_retreat_signal.sql",
    "functions/send_formation_command.sql",
    "functions/send_help_request.sql",
    "functions/receive_signals.sql",
    "functions/signal_vector.sql",
    "functions/coordination_score.sql",
    "functions/record_pack_episode.sql",
    "functions/notify_jobs.sql",
    "functions/enqueue_gateway_requests.sql",
    "functions/request_pack_actions_typed.sql",
    "functions/request_pack_actions.sql",
    "functions/decision_payload.sql",
    "functions/decision_result.sql",
    "functions/cancel_decision.sql",
    "functions/notify_model_change.sql",
    "functions/submit_training.sql",
    "functions/signal_entries.sql",
    "functions/signal_vectors.sql",
    "functions/pack_keys.sql",
    "functions/submit_fence_key.sql",
    "functions/wake_idle_workers.sql",
    "functions/decision_json.sql",
    "functions/decision_actions.sql",
    "functions/lock_pack_maps.sql",
    "functions/pack_keys_of_batch.sql",
    "functions/signals_received_by_batch.sql",
    "functions/submit_decision_job.sql",
    "functions/request_pack_actions_packed.sql",
    "functions/purge_finished_decisions.sql",
    "functions/form_or_defer_packs.sql",
    "functions/purge_cutoff.sql",
    "functions/purge_job_history.sql",
    "functions/purge_coordination_logs.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = []


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
    load_config_sections(["limits"])


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES, REPLACES)
