"""The 64 floats of the state contract, computed from the simulated world as the game server
computes them (docs/contract_combat.md, "The 64 floats"), for every monster of E fights at once.

Every index comes from `plpython.state_contract.dimension(name)`, every AI-state level from its
tables; the radii and speed bounds are the game server's constants in `world`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.units import (
    AI_STATES,
    BLESSING,
    HEAL,
    Monsters,
    Players,
)
from models.envs.contract_combat.world import (
    AREA_CONTROL_RANGE,
    HAZARD_RANGE,
    ITEM_RANGE,
    MAX_WALK_SPEED,
    MIN_WALK_SPEED,
    World,
)
from models.envs.pack_combat.combat import chebyshev, gather
from plpython.state_contract import (
    GOAL_AI_STATE,
    LOW_HP,
    STATE_DIM,
    TACTICAL_AI_STATE,
    dimension,
)

F64 = NDArray[np.float64]

#: dim 41 and dim 52 by AI-state index (a state the tables lack is their "other").
TACTICAL_LEVEL: F64 = np.array(
    [TACTICAL_AI_STATE.get(s, TACTICAL_AI_STATE["other"]) for s in AI_STATES]
)
GOAL_LEVEL: F64 = np.array([GOAL_AI_STATE.get(s, GOAL_AI_STATE["other"]) for s in AI_STATES])


def _d(name: str) -> int:
    return dimension(name).index


def norm(x: F64, a: float, b: float) -> F64:
    """(x - a) / (b - a) clamped to [0, 1], the contract's norm."""
    out: F64 = np.clip((x - a) / (b - a), 0.0, 1.0)
    return out


def encode(m: Monsters, p: Players, w: World) -> NDArray[np.float32]:
    """(E, N, 64) float32 states of every monster slot (dead and padded rows are computed too; the
    environment zeroes the rows of slots that do not act)."""
    E, N = m.alive.shape
    u = p.units
    s = np.zeros((E, N, STATE_DIM))
    e_idx = np.arange(E)[:, None]
    hp = m.hp / np.maximum(m.max_hp, 1e-9)
    sp = np.where(m.max_sp > 0, m.sp / np.maximum(m.max_sp, 1e-9), 0.0)
    has_skill = m.skill_kind >= 0
    n_skills = has_skill.sum(2)
    ready = (has_skill & (m.skill_cd <= 0)).sum(2)
    skills_ready = np.where(n_skills > 0, ready / np.maximum(n_skills, 1), 0.0)
    has_master = m.master >= 0
    slot = np.arange(N)
    has_slaves = ((m.master[:, None, :] == slot[None, :, None]) & m.alive[:, None, :]).any(2)
    has_t = m.target >= 0

    # Distances: to players (view), to other monsters, to spawn, to the target.
    d_mp = chebyshev(m.pos, u.pos)  # (E, N, M)
    players_view = (u.alive[:, None, :] & (d_mp <= m.view_range[..., None])).sum(2)
    d_mm = chebyshev(m.pos, m.pos)
    others = m.alive[:, None, :] & ~np.eye(N, dtype=bool)[None]
    monsters_view = (others & (d_mm <= m.view_range[..., None])).sum(2)
    monsters_10 = (others & (d_mm <= AREA_CONTROL_RANGE)).sum(2)
    spawn_d = np.maximum(np.abs(m.pos - m.spawn)[..., 0], np.abs(m.pos - m.spawn)[..., 1])
    t_d = np.take_along_axis(d_mp, np.maximum(m.target, 0)[..., None], 2)[..., 0]
    t_hp = gather(u.hp / np.maximum(u.max_hp, 1e-9), m.target)
    cx, cy = m.pos[..., 0].astype(np.int64), m.pos[..., 1].astype(np.int64)

    # --- self ---
    s[..., _d("hp_ratio")] = hp
    s[..., _d("sp_ratio")] = sp
    s[..., _d("level")] = norm(m.level, 1, 150)
    s[..., _d("mobility")] = m.can_move * (1.0 - norm(m.walk_speed, MIN_WALK_SPEED, MAX_WALK_SPEED))
    s[..., _d("attack")] = norm(0.5 * (m.atk1 + m.atk2), 0, 10000)
    s[..., _d("skills_ready")] = skills_ready
    s[..., _d("statuses")] = norm((m.status > 0).sum(2).astype(np.float64), 0, 10)
    s[..., _d("equipment")] = dimension("equipment").constant
    s[..., _d("archetype")] = m.arch / 5.0
    s[..., _d("role_confidence")] = dimension("role_confidence").constant
    s[..., _d("hp_ratio_copy")] = hp
    s[..., _d("learning_progress")] = dimension("learning_progress").constant

    # --- environment ---
    s[..., _d("cell_type")] = w.cell[e_idx, cx, cy] / 3.0
    s[..., _d("obstacles")] = w.blocked7[e_idx, cx, cy] / 49.0
    d_items = chebyshev(m.pos, w.item_pos)
    items = (w.item_present[:, None, :] & (d_items <= ITEM_RANGE)).sum(2)
    s[..., _d("items_near")] = norm(items.astype(np.float64), 0, 10)
    d_haz = chebyshev(m.pos, w.hazard_pos)
    hazards = ((w.hazard_ttl > 0)[:, None, :] & (d_haz <= HAZARD_RANGE)).sum(2)
    s[..., _d("hazards_near")] = norm(hazards.astype(np.float64), 0, 10)
    s[..., _d("players_in_view")] = norm(players_view.astype(np.float64), 0, 20)
    s[..., _d("monsters_in_view")] = norm(monsters_view.astype(np.float64), 0, 30)
    s[..., _d("spawn_distance")] = norm(spawn_d, 0, 50)
    danger = 0.3 * w.pvp + 0.5 * w.gvg + 0.4 * w.castle + 0.4 * w.battleground
    s[..., _d("map_danger")] = np.minimum(danger, 1.0)[:, None]
    s[..., _d("daytime")] = w.day[:, None]
    around = monsters_10 + players_view
    s[..., _d("area_control")] = np.where(around > 0, monsters_10 / np.maximum(around, 1), 0.5)

    # --- social ---
    s[..., _d("pack_size")] = 0.1 * has_master
    s[..., _d("pack_cohesion")] = 0.8 * has_master
    s[..., _d("ally_hp_ratio")] = hp
    s[..., _d("has_master")] = has_master
    s[..., _d("formation_quality")] = 0.7 * (has_master & has_slaves)
    s[..., _d("communication_load")] = dimension("communication_load").constant
    s[..., _d("ally_skills_ready")] = skills_ready
    s[..., _d("trust")] = dimension("trust").constant

    # --- tactical ---
    t_level = gather(p.level, m.target)
    t_atk, t_max = gather(u.atk, m.target), gather(u.max_hp, m.target)
    threat = 0.5 * norm(t_level, 1, 150) + 0.3 * norm(t_atk, 0, 5000) + 0.2 * norm(t_max, 0, 1e5)
    s[..., _d("enemies_in_view")] = norm(players_view.astype(np.float64), 0, 10)
    # A target beyond view (but within chase range) would pass 1: the contract's range caps it.
    s[..., _d("target_distance")] = np.where(has_t, np.minimum(t_d / m.view_range, 1.0), 1.0)
    s[..., _d("target_threat")] = np.where(has_t, threat, 0.0)
    s[..., _d("damage_taken")] = 0.3 * ((m.hp < m.max_hp) & has_t)
    s[..., _d("target_hp_ratio")] = np.where(has_t, t_hp, 0.0)
    s[..., _d("target_class")] = np.where(has_t, 1.0, 0.0)
    s[..., _d("target_skill_threat")] = np.where(has_t, norm(t_level, 1, 150), 0.0)
    s[..., _d("spawn_closeness")] = 1.0 - norm(spawn_d, 0, 20)
    s[..., _d("escape_routes")] = w.free8[e_idx, cx, cy] / 8.0
    s[..., _d("advantage")] = np.where(has_t, np.where(hp > t_hp, 0.7, 0.3), 0.5)
    s[..., _d("started_fight")] = m.started_fight
    s[..., _d("ai_state")] = TACTICAL_LEVEL[m.ai_state]

    # --- temporal ---
    delayed = has_skill & (m.skill_delay > 0)
    progress = np.where(delayed, 1.0 - m.skill_cd / np.maximum(m.skill_delay, 1e-9), 0.0)
    n_delayed = delayed.sum(2)
    s[..., _d("hp_lost")] = 1.0 - hp
    s[..., _d("cooldown_progress")] = np.where(
        n_delayed > 0, progress.sum(2) / np.maximum(n_delayed, 1), 1.0
    )
    s[..., _d("since_player_near")] = norm(m.since_player_ms, 0, 30000)
    s[..., _d("action_success")] = hp
    s[..., _d("pattern_recognition")] = dimension("pattern_recognition").constant
    s[..., _d("time_alive")] = norm(m.time_alive_ms, 0, 300000)
    s[..., _d("recent_deaths")] = dimension("recent_deaths").constant
    s[..., _d("hp_full")] = m.hp >= m.max_hp
    s[..., _d("provoked")] = 0.5 * m.started_fight + 0.5 * m.provoked
    s[..., _d("momentum")] = np.select([m.attacking, m.walking, m.casting], [0.9, 0.5, 1.0], 0.1)

    # --- goals ---
    wounded = hp.astype(np.float32) < np.float32(LOW_HP)
    risk = 0.5 + 0.3 * m.aggressive + 0.2 * m.boss - 0.4 * wounded
    aggression = np.where(m.aggressive, 0.9, np.where(m.angry, 0.7, 0.3))
    supports = ((m.skill_kind == HEAL) | (m.skill_kind == BLESSING)).any(2)
    s[..., _d("primary_goal")] = GOAL_LEVEL[m.ai_state]
    s[..., _d("secondary_goal")] = 0.3 * m.looter + 0.3 * m.assist
    s[..., _d("goal_progress")] = np.where(has_t, 1.0 - np.minimum(t_d / m.chase_range, 1.0), 0.5)
    s[..., _d("hp_urgency")] = 1.0 - hp
    s[..., _d("sp_need")] = 1.0 - sp
    s[..., _d("risk_tolerance")] = np.clip(risk, 0.0, 1.0)
    s[..., _d("cooperation")] = np.where(m.assist, 0.8, 0.2)
    s[..., _d("exploration")] = np.where(m.no_random_walk, 0.2, 0.7)
    s[..., _d("aggression")] = aggression
    s[..., _d("defense_priority")] = 1.0 - aggression
    s[..., _d("support_priority")] = np.where(supports, 0.9, np.where(m.assist, 0.7, 0.0))
    s[..., _d("adaptation_rate")] = dimension("adaptation_rate").constant
    return s.astype(np.float32)
