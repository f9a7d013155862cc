"""In-database coordination: monster state, packs, signals with TTL, scores, diagnostics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from migrations.config_rows import load_config_sections
from migrations.objects import downgrade_objects, upgrade_objects

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Object files under sql/, in the order they are created (dropped in reverse).
OBJECTS: list[str] = [
    "tables/ml_config.sql",
    "functions/config_number.sql",
    "functions/clock_now.sql",
    "functions/graph_time.sql",
    "graph/monster_vertex_id_idx.sql",
    "graph/signals_expires_idx.sql",
    "functions/all_finite.sql",
    "tables/monsters.sql",
    "tables/pack_maps.sql",
    "tables/signal_sweeps.sql",
    "types/monster_state.sql",
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
    "views/packs.sql",
    "views/live_signals.sql",
    "views/live_signals_by_type.sql",
    "views/signal_activity.sql",
    "views/monsters_without_pack.sql",
    "jobs/expire_signals_every_second.sql",
    "jobs/form_dirty_packs_every_second.sql",
]
#: Modules under plpython/ installed into ml.plpython_modules.
PLPYTHON_MODULES: list[str] = ["signal_encoding", "pack_formation", "coordination"]

#: The parts of the YAML the database acts on (loaded into ml.config, flattened with dots).
CONFIG_SECTIONS = ("pack_formation", "signals", "ctde.inference")


def upgrade() -> None:
    upgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
    load_config_sections(CONFIG_SECTIONS)


def downgrade() -> None:
    downgrade_objects(revision, OBJECTS, PLPYTHON_MODULES)
