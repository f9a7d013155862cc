"""The game server's ten actions, executed for every monster of E fights at once, and walking on
a map with obstacles.

Semantics (plpython.state_contract.ACTIONS; docs/contract_combat.md, "The ten actions"): an action
that cannot be carried out does nothing and the step is lost, as the real executor lets it fail.
Decisions read the state at the start of the step; the environment resolves damage and movement
afterwards, for everyone at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.units import (
    ANGRY_S,
    BERSERK_S,
    BLESSING,
    DAMAGE,
    FOLLOW_S,
    HEAL,
    IDLE_S,
    MAX_SKILLS,
    RUSH_S,
    SILENCE,
    STUN,
    WALK_S,
    Monsters,
    Players,
    cells_per_step,
)
from models.envs.pack_combat.combat import chebyshev, gather, gather_pos
from plpython.state_contract import ACTIONS

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]
INF = np.inf

_ID = {a.name: a.id for a in ACTIONS}
IDLE, ATTACK, MOVE_CLOSER, MOVE_AWAY = (
    _ID["IDLE"],
    _ID["ATTACK"],
    _ID["MOVE_CLOSER"],
    _ID["MOVE_AWAY"],
)
MOVE_RANDOM, SKILL_1, SKILL_2, SKILL_3 = (
    _ID["MOVE_RANDOM"],
    _ID["SKILL_1"],
    _ID["SKILL_2"],
    _ID["SKILL_3"],
)
CHANGE_TARGET, FLEE = _ID["CHANGE_TARGET"], _ID["FLEE"]
N_ACTIONS = len(ACTIONS)
#: MOVE_AWAY walks this many cells straight away.
AWAY_CELLS = 5
#: MOVE_RANDOM picks a cell within this many cells (per axis).
RANDOM_WALK_CELLS = 5


def skill_slot(action: I64, n_skills: I64) -> I64:
    """The skill SKILL_k uses: the monster's k-th (index k - 1, so SKILL_1 is its first) if it has
    it, else its first (index 0), as the game server's executor indexes the mob's skill list."""
    k = action - SKILL_1
    out: I64 = np.where(k < n_skills, k, 0)
    return out


@dataclass
class Orders:
    """What every monster does this step, decided from the state at its start."""

    target: I64  # (E, N) its target after the action (-1 none)
    attacking: B  # (E, N) strikes its target this step
    skill: I64  # (E, N) slot of the skill it uses, -1 none
    skill_target: I64  # (E, N) player slot a damage skill hits, -1 none
    heal_target: I64  # (E, N) monster slot a heal skill restores, -1 none
    goal: F64  # (E, N, 2) cell it walks toward
    stop: F64  # (E, N) it stops walking this close to the goal (attack range when rushing)
    moving: B  # (E, N)
    ai_state: I64  # (E, N) AI state after the action
    failed: B  # (E, N) the action could not be carried out
    acquired: B  # (E, N) it picked a new target by itself (ATTACK without one)


def execute(m: Monsters, p: Players, actions: I64, acting: B, wander: F64, map_size: int) -> Orders:
    """The ten actions (`wander`: (E, N, 2) random offsets in [-1, 1] for random walks)."""
    u = p.units
    M = u.alive.shape[1]
    a = np.where(acting, actions, IDLE)
    stunned = (m.status[..., STUN] > 0) & acting
    a = np.where(stunned, IDLE, a)
    d = chebyshev(m.pos, u.pos)  # (E, N, M)
    in_view = u.alive[:, None, :] & (d <= m.view_range[..., None])
    nearest = np.where(in_view.any(2), np.where(in_view, d, INF).argmin(2), -1)
    target = m.target.copy()

    # ATTACK takes the nearest enemy in view when it has no target.
    attack = a == ATTACK
    acquired = attack & (target < 0) & (nearest >= 0)
    target = np.where(acquired, nearest, target)
    # CHANGE_TARGET: the nearest enemy in view other than the current target.
    other = in_view & (np.arange(M)[None, None, :] != target[..., None])
    alt = np.where(other.any(2), np.where(other, d, INF).argmin(2), -1)
    change = a == CHANGE_TARGET
    target = np.where(change & (alt >= 0), alt, target)
    flee = a == FLEE
    target = np.where(flee, -1, target)

    has_t = target >= 0
    t_pos = gather_pos(u.pos, target)
    t_d = np.where(has_t, np.take_along_axis(d, np.maximum(target, 0)[..., None], 2)[..., 0], INF)
    in_range = t_d <= m.attack_range
    attacking = attack & has_t & in_range
    rush = (attack | (a == MOVE_CLOSER)) & has_t & ~in_range

    # Skills: the slot, then whether it can be used (ready, SP, not silenced, a target in range).
    is_skill = (a >= SKILL_1) & (a <= SKILL_3)
    n_skills = (m.skill_kind >= 0).sum(2)
    slot = np.clip(skill_slot(a, n_skills), 0, MAX_SKILLS - 1)
    pick = slot[..., None]
    kind = np.take_along_axis(m.skill_kind, pick, 2)[..., 0]
    cd = np.take_along_axis(m.skill_cd, pick, 2)[..., 0]
    cost = np.take_along_axis(m.skill_sp, pick, 2)[..., 0]
    reach = np.take_along_axis(m.skill_range, pick, 2)[..., 0]
    usable = is_skill & (kind >= 0) & (cd <= 0) & (m.sp >= cost) & (m.status[..., SILENCE] == 0)
    # A damage skill hits the target, else the nearest enemy in view, if within the skill's range.
    sk_t = np.where(has_t, target, nearest)
    sk_d = np.take_along_axis(d, np.maximum(sk_t, 0)[..., None], 2)[..., 0]
    damage_ok = (kind == DAMAGE) & (sk_t >= 0) & (sk_d <= reach)
    # A heal restores the most hurt living packmate within range (itself included).
    d_mm = chebyshev(m.pos, m.pos)
    ratio = m.hp / np.maximum(m.max_hp, 1e-9)
    allies = m.alive[:, None, :] & (d_mm <= reach[..., None])
    ally = np.where(allies, ratio[:, None, :], INF).argmin(2)
    using = usable & (damage_ok | (kind == HEAL) | (kind == BLESSING))
    skill_target = np.where(using & (kind == DAMAGE), sk_t, -1)
    target = np.where(using & (kind == DAMAGE) & ~has_t, sk_t, target)
    acquired |= using & (kind == DAMAGE) & ~has_t

    # Walking goals.
    attacker_pos = gather_pos(u.pos, m.last_attacker)
    attacker_ok = (m.last_attacker >= 0) & gather(u.alive, m.last_attacker)
    source = np.where(has_t[..., None], t_pos, attacker_pos)
    has_source = has_t | attacker_ok
    direction = np.sign(m.pos - source)
    lone = (direction == 0).all(-1)  # standing on its source: no straight line away
    random_goal = m.pos + np.round(wander * RANDOM_WALK_CELLS)
    away_goal = np.where(
        (has_source & ~lone)[..., None], m.pos + AWAY_CELLS * direction, random_goal
    )
    away = a == MOVE_AWAY
    wander_now = a == MOVE_RANDOM
    goal = np.select(
        [rush[..., None], away[..., None], wander_now[..., None], flee[..., None]],
        [t_pos, away_goal, random_goal, m.spawn],
        m.pos,
    )
    goal = np.clip(goal, 0, map_size - 1)
    stop = np.where(rush, m.attack_range, 0.0)
    moving = (rush | away | wander_now | flee) & m.can_move & (cells(goal - m.pos) > stop)

    failed = acting & (
        stunned
        | (attack & ~has_t)
        | ((a == MOVE_CLOSER) & (~has_t | ~m.can_move))
        | (is_skill & ~using)
        | (change & (alt < 0))
        | ((away | wander_now | flee) & ~m.can_move)
    )
    state = np.select(
        [
            attacking | (using & has_t),
            rush,
            away | wander_now | flee,
        ],
        [
            np.where(m.angry, ANGRY_S, BERSERK_S),
            np.where(m.angry, FOLLOW_S, RUSH_S),
            np.full_like(a, WALK_S),
        ],
        IDLE_S,
    )
    state = np.where(stunned | ~acting, m.ai_state, state)
    return Orders(
        target=np.where(acting, target, m.target),
        attacking=attacking & acting,
        skill=np.where(using & acting, slot, -1),
        skill_target=np.where(acting, skill_target, -1),
        heal_target=np.where(using & acting & (kind == HEAL), ally, -1),
        goal=goal,
        stop=stop,
        moving=moving & acting,
        ai_state=state,
        failed=failed,
        acquired=acquired & acting,
    )


def cells(offset: F64) -> F64:
    """Chebyshev length of (..., 2) offsets."""
    out: F64 = np.maximum(np.abs(offset[..., 0]), np.abs(offset[..., 1]))
    return out


def walk(pos: F64, goal: F64, steps: I64, stop: F64, walkable: B) -> F64:
    """Positions after walking up to `steps` cells toward `goal`, stopping `stop` cells from it.

    Greedy, cell by cell: the diagonal toward the goal, else one of its two axes, else a 45-degree
    turn either way; a unit with no walkable choice stays. (rAthena plans an A* path; small
    obstacles are walked around all the same.)"""
    E = pos.shape[0]
    e_idx = np.arange(E)[:, None]
    S = walkable.shape[1]
    p = pos.copy()
    for i in range(int(steps.max(initial=0))):
        live = (steps > i) & (cells(goal - p) > stop)
        if not live.any():
            break
        s = np.sign(goal - p)
        sx, sy = s[..., 0], s[..., 1]
        zero = np.zeros_like(sx)
        choices = [
            (sx, sy),
            (sx, zero),
            (zero, sy),
            (np.sign(sx - sy), np.sign(sx + sy)),
            (np.sign(sx + sy), np.sign(sy - sx)),
        ]
        moved = np.zeros(live.shape, bool)
        nxt = p.copy()
        for cx, cy in choices:
            q = np.stack([np.clip(p[..., 0] + cx, 0, S - 1), np.clip(p[..., 1] + cy, 0, S - 1)], -1)
            ok = walkable[e_idx, q[..., 0].astype(np.int64), q[..., 1].astype(np.int64)]
            ok &= (q != p).any(-1) & live & ~moved
            nxt = np.where(ok[..., None], q, nxt)
            moved |= ok
        p = nxt
    return p


def monster_steps(m: Monsters) -> I64:
    """Cells each monster may walk this step."""
    return cells_per_step(m.walk_speed)
