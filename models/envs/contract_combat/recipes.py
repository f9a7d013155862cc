"""The seven pack actions as recipes over the game server's ten primitive actions.

The pack actor answers HELP_ALLY, GROUP_UP, SPLIT, FOCUS_FIRE, PROTECT_WEAK, FLANK_LEFT or
FLANK_RIGHT (models/envs/pack_combat/rules.py); the game server executes IDLE ... FLEE
(plpython.state_contract.ACTIONS). A recipe says, for one monster and one step, what the server
reads (the pack's target named by the leader's attack_target signal, the packmate in most need and
its attacker, the weakest packmate, the pack's centre) and what it issues: at most one retarget,
then one primitive or one walk to a cell. docs/pack_recipes.md is the table for a game-server team.

Two steps of a recipe are not among the ten primitives; they are the gateway's extension, each one
rAthena unit function:

- set-target: `md->target_id = <player id>` (what CHANGE_TARGET does when it is aimed at a given
  player instead of the nearest other one);
- walk-to-cell: `unit_walktoxy(&md->bl, x, y, 0)` (what FLEE does with the spawn centre as the
  cell).

`pack_orders` executes recipes exactly that way in the contract simulator: the retarget is applied
to the monster's target, then the executor (`execute.execute`) runs the primitive, or the walk
replaces its walking goal. `primitive_for` is the answer when only one of the ten may be sent (no
extension): the closest single primitive and the reason, what `ml.legacy_action_map` should say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation
from models.envs.contract_combat.execute import (
    ATTACK,
    CHANGE_TARGET,
    IDLE,
    MOVE_AWAY,
    MOVE_CLOSER,
    MOVE_RANDOM,
    Orders,
    cells,
    execute,
)
from models.envs.contract_combat.traditional import action_for_slot
from models.envs.contract_combat.units import (
    HEAL,
    SILENCE,
    STUN,
    WALK_S,
    Monsters,
    Players,
)
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import (
    FLANK_SIDE_RANGE,
    SUPPORT_HEAL_BELOW,
    Units,
    chebyshev,
    gather,
    gather_pos,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]
INF = np.inf

#: GROUP_UP: a monster this close (Chebyshev) to the pack's centre has regrouped and fights from
#: there (the pack simulator's rule).
GROUP_RADIUS = 1
#: FLANK_*: the side cell lies min(attack range, FLANK_REACH) cells beside the target, so a ranged
#: monster does not walk round at its full range (the pack simulator's rule).
FLANK_REACH = 2
#: A heal skill is cast on the ally-bound recipes while a packmate in its range is under this share
#: of its hp (the pack simulator's support rule).
HEAL_BELOW = SUPPORT_HEAL_BELOW

# Reasons `primitive_for` gives, by code.
R_HEAL, R_ATTACK, R_CHANGE, R_KEEP, R_CLOSER, R_AWAY, R_HOLD, R_WANDER = range(8)
REASONS = (
    "its heal skill (SKILL_k): a packmate in range needs it; the recipe casts it too",
    "ATTACK: its target already is the recipe's enemy, or ATTACK's own pick (the nearest) is",
    "CHANGE_TARGET: the recipe's enemy is the nearest other enemy in view, the one it picks; "
    "ATTACK follows on the next step",
    "ATTACK its own target: no single primitive aims at the recipe's enemy, and a strike is "
    "worth more than a lost step",
    "MOVE_CLOSER: walking at its target also walks toward the recipe's cell",
    "MOVE_AWAY: walking away from its target (or last attacker) walks toward the recipe's cell",
    "IDLE: in place with nobody in range (GROUP_UP holds), or no primitive walks toward the cell",
    "MOVE_RANDOM: no enemy in view",
)


def leader_and_focus(m: Monsters, u: Units) -> tuple[I64, I64]:
    """(E,) the pack's leader (the master while it lives, else the living monster with the most max
    hp, lowest slot on ties) and the player it names in its attack_target signal (any player under
    a quarter of its hp, the most hurt, else by class priest > wizard > hunter > knight, the most
    hurt within a class); -1 where none. The environment's signals use the same two."""
    N = m.alive.shape[1]
    is_master = (m.master[:, None, :] == np.arange(N)[None, :, None]).any(2)
    score = np.where(m.alive, m.max_hp + 1e9 * is_master - 1e-3 * np.arange(N), -np.inf)
    leader = np.where(m.alive.any(1), score.argmax(1), -1)
    ratio = u.hp / np.maximum(u.max_hp, 1e-9)
    prio = R.CLASS_FOCUS_PRIORITY[u.cls] + 0.5 * (1 - ratio)
    prio = np.where(ratio < 0.25, 10.0 + (1 - ratio), prio)
    prio = np.where(u.alive, prio, -np.inf)
    focus = np.where(u.alive.any(1) & (leader >= 0), prio.argmax(1), -1)
    return leader.astype(np.int64), focus.astype(np.int64)


@dataclass
class Plan:
    """What the recipes decide for every monster of E fights, (E, N) each, from the state at the
    start of the step."""

    target: I64  # its target after the retarget (set-target), -1 none
    action: I64  # the primitive issued after the retarget (IDLE where it walks instead)
    walks: B  # it walks to `goal` (walk-to-cell) instead of a primitive
    goal: F64  # (E, N, 2) the recipe's cell: the pack's centre, beside the ward, the flank cell
    situation: Situation  # what `primitive_for` reads


@dataclass
class Situation:
    """What decides the single closest primitive of a recipe, per monster (arrays of one shape)."""

    has_target: B  # it has a target
    attack_reaches: B  # ATTACK aims at the recipe's enemy (its target, or its pick: the nearest)
    change_reaches: B  # CHANGE_TARGET aims at it (the nearest enemy in view other than its target)
    enemy: B  # ATTACK has someone to fight (a target or an enemy in view)
    own_in_range: B  # its target (else the nearest enemy in view) is within attack range
    heal_action: I64  # SKILL_k of a usable heal skill with a hurt packmate in range, -1 none
    placed: B  # it stands where the recipe walks to (regrouped, beside the ward, on its flank)
    toward: I64  # MOVE_CLOSER / MOVE_AWAY where that walks nearer the recipe's cell, else IDLE


def primitive_for(pack_action: I64, s: Situation) -> tuple[I64, I64]:
    """The single closest primitive of each recipe when only one of the ten may be sent, and the
    reason (an index into REASONS). Works element-wise on arrays of any one shape.

    - FOCUS_FIRE, SPLIT, FLANK_*: aim at the recipe's enemy: ATTACK where it reaches it, else
      CHANGE_TARGET where that does, else ATTACK its own target (flanking needs a sideways walk,
      which no primitive does). SPLIT with nobody to fight: MOVE_RANDOM.
    - HELP_ALLY, PROTECT_WEAK: the heal skill where usable, else as FOCUS_FIRE on the ally's
      attacker; PROTECT_WEAK first closes in on the ward with MOVE_CLOSER / MOVE_AWAY.
    - GROUP_UP: the heal skill where usable; regrouped: ATTACK what is in range, else IDLE; else
      MOVE_CLOSER / MOVE_AWAY toward the centre.
    """
    a = np.asarray(pack_action)
    engage = np.select(
        [s.attack_reaches, s.change_reaches, s.enemy],
        [np.full(a.shape, ATTACK), np.full(a.shape, CHANGE_TARGET), np.full(a.shape, ATTACK)],
        np.where(a == R.SPLIT, MOVE_RANDOM, ATTACK),
    )
    engage_why = np.select(
        [s.attack_reaches, s.change_reaches, s.enemy],
        [np.full(a.shape, R_ATTACK), np.full(a.shape, R_CHANGE), np.full(a.shape, R_KEEP)],
        np.where(a == R.SPLIT, R_WANDER, R_KEEP),
    )
    move = s.toward
    move_why = np.select([move == MOVE_CLOSER, move == MOVE_AWAY], [R_CLOSER, R_AWAY], R_HOLD)
    hold = np.where(s.own_in_range, ATTACK, IDLE)
    hold_why = np.where(s.own_in_range, R_ATTACK, R_HOLD)
    heals = (s.heal_action >= 0) & np.isin(a, (R.HELP_ALLY, R.PROTECT_WEAK, R.GROUP_UP))
    group = a == R.GROUP_UP
    protect_walk = (a == R.PROTECT_WEAK) & ~s.placed
    action = np.select(
        [heals, group & s.placed, group, protect_walk], [s.heal_action, hold, move, move], engage
    )
    why = np.select(
        [heals, group & s.placed, group, protect_walk],
        [np.full(a.shape, R_HEAL), hold_why, move_why, move_why],
        engage_why,
    )
    return action.astype(np.int64), why.astype(np.int64)


def plan(pack_actions: I64, m: Monsters, p: Players, acting: B, map_size: int) -> Plan:
    """The seven recipes for every monster (docs/pack_recipes.md)."""
    u = p.units
    E, N = m.alive.shape
    M = u.alive.shape[1]
    a = np.where(acting, pack_actions, R.FOCUS_FIRE)
    _, focus = leader_and_focus(m, u)

    d = chebyshev(m.pos, u.pos)  # (E, N, M)
    in_view = u.alive[:, None, :] & (d <= m.view_range[..., None])
    nearest = np.where(in_view.any(2), np.where(in_view, d, INF).argmin(2), -1)
    other = in_view & (np.arange(M) != m.target[..., None])
    alt = np.where(other.any(2), np.where(other, d, INF).argmin(2), -1)
    own = np.where(m.target >= 0, m.target, nearest)  # what a plain ATTACK fights
    ratio = m.hp / np.maximum(m.max_hp, 1e-9)
    mate = m.alive[:, None, :] & m.alive[:, :, None] & ~np.eye(N, dtype=bool)  # [e, n, j]
    has_mate = mate.any(2)
    alive_f = m.alive[..., None]
    centre = np.round((m.pos * alive_f).sum(1) / np.maximum(alive_f.sum(1), 1))  # (E, 2)
    centre_n = np.broadcast_to(centre[:, None, :], (E, N, 2))

    # Who attacks which monster: players whose target it is (the server reads the players' attack
    # targets), else its last attacker (md->attacked_id).
    on = (p.target[:, :, None] == np.arange(N)) & u.alive[:, :, None]  # [e, player, monster]
    attacked = on.any(1)

    def attacker_of(j: I64) -> I64:
        """The attacker of packmate j (E, N): a player targeting it (the nearest to me), else its
        last attacker while alive, else the player nearest it; -1 when no player lives."""
        idx = np.maximum(j, 0)[..., None].repeat(M, 2)
        targeting = np.take_along_axis(on.transpose(0, 2, 1), idx, 1)  # (E, N, M)
        by_target = np.where(targeting, d, INF).argmin(2)
        last = gather(m.last_attacker, j)
        last_ok = (last >= 0) & gather(u.alive, last)
        d_j = np.take_along_axis(d, idx, 1)  # distances from j to the players
        near_j = np.where(u.alive[:, None, :], d_j, INF).argmin(2)
        out = np.where(targeting.any(2), by_target, np.where(last_ok, last, near_j))
        out = np.where((u.alive.sum(1) > 0)[:, None] & (j >= 0), out, -1)
        return out.astype(np.int64)

    # HELP_ALLY: the packmate in most need: the most hurt of those under attack, else the most hurt.
    need = np.where(attacked, ratio, 1.0 + ratio)
    ally = np.where(has_mate, np.where(mate, need[:, None, :], INF).argmin(2), -1)
    # PROTECT_WEAK: the ward, the most hurt packmate under attack, else the one with least max hp
    # (the pack simulator's rule).
    ward_key = np.where(attacked, ratio, 10.0 + m.max_hp / 1e6)
    ward = np.where(has_mate, np.where(mate, ward_key[:, None, :], INF).argmin(2), -1)
    help_t = attacker_of(ally)
    threat = attacker_of(ward)
    # FOCUS_FIRE and FLANK_*: the pack's target while it is within chase range (the server drops a
    # target beyond it anyway), else its own.
    focus_n = np.broadcast_to(focus[:, None], (E, N))
    d_focus = np.take_along_axis(d, np.maximum(focus_n, 0)[..., None], 2)[..., 0]
    focus_aim = np.where((focus_n >= 0) & (d_focus <= m.chase_range), focus_n, own)
    # SPLIT: its target while no packmate shares it, else the nearest enemy in view no packmate
    # targets, else its own.
    claimed = (
        mate[..., None]
        & (m.target[:, None, :, None] == np.arange(M))
        & (m.target >= 0)[:, None, :, None]
    ).any(2)  # [e, n, player]: a packmate targets the player
    own_free = (m.target >= 0) & ~np.take_along_axis(
        claimed, np.maximum(m.target, 0)[..., None], 2
    )[..., 0]
    free = in_view & ~claimed
    free_near = np.where(free.any(2), np.where(free, d, INF).argmin(2), -1)
    split = np.where(own_free, m.target, np.where(free_near >= 0, free_near, own))

    aim = np.select(
        [
            a == R.FOCUS_FIRE,
            a >= R.FLANK_LEFT,
            (a == R.HELP_ALLY) & has_mate,
            (a == R.PROTECT_WEAK) & has_mate,
            a == R.SPLIT,
        ],
        [focus_aim, focus_aim, help_t, threat, split],
        own,  # GROUP_UP, and the ally-bound recipes without a packmate: fight its own
    )
    aim = np.where(aim >= 0, aim, m.target)
    aim_pos = gather_pos(u.pos, aim)
    d_aim = np.where(aim >= 0, np.take_along_axis(d, np.maximum(aim, 0)[..., None], 2)[..., 0], INF)
    in_range = d_aim <= m.attack_range

    # The recipes' cells.
    ward_pos = gather_pos(m.pos, ward)
    beside = ward_pos + np.sign(gather_pos(u.pos, threat) - ward_pos) * (threat >= 0)[..., None]
    axis = aim_pos - centre_n
    left = np.sign(np.stack([-axis[..., 1], axis[..., 0]], -1))  # y grows north, as in rAthena
    flank_dir = np.where((a == R.FLANK_LEFT)[..., None], left, -left)
    flank = aim_pos + flank_dir * np.minimum(m.attack_range, FLANK_REACH)[..., None]
    goal = np.select(
        [
            (a == R.GROUP_UP)[..., None],
            (a == R.PROTECT_WEAK)[..., None],
            (a >= R.FLANK_LEFT)[..., None],
        ],
        [centre_n, beside, flank],
        m.pos,
    )
    # FOCUS_FIRE and FLANK_* with nobody of its own to fight and the pack's target beyond its chase
    # range: it walks to the pack's target's cell to join the fight (ATTACK would fail).
    join = (
        ((a == R.FOCUS_FIRE) | (a >= R.FLANK_LEFT))
        & (own < 0)
        & (focus_n >= 0)
        & (d_focus > m.chase_range)
    )
    goal = np.where(join[..., None], gather_pos(u.pos, focus_n), goal)
    goal = np.clip(goal, 0, map_size - 1)
    at_goal = cells(goal - m.pos) == 0
    side = ((m.pos - aim_pos) * flank_dir).sum(-1)
    on_flank = (side > 0) | (np.abs(flank_dir).sum(-1) == 0) | (m.attack_range > FLANK_SIDE_RANGE)
    placed = np.select(
        [a == R.GROUP_UP, a == R.PROTECT_WEAK, a >= R.FLANK_LEFT],
        [
            ~has_mate | (cells(centre_n - m.pos) <= GROUP_RADIUS),
            ~has_mate | (cells(ward_pos - m.pos) <= 1),
            (aim < 0) | (on_flank & in_range),
        ],
        True,
    )
    # A cell it cannot get nearer (the map's edge clipped it onto its own cell) counts as reached.
    placed = (placed | at_goal) & ~join

    # The heal skill: a usable heal slot with a packmate (itself included) under HEAL_BELOW in
    # range; the executor heals the most hurt of them.
    d_mm = chebyshev(m.pos, m.pos)
    ready = (
        (m.skill_kind == HEAL)
        & (m.skill_cd <= 0)
        & (m.skill_sp <= m.sp[..., None])
        & (m.status[..., SILENCE] == 0)[..., None]
    )  # (E, N, K)
    hurt_near = (
        m.alive[:, None, None, :]
        & (d_mm[:, :, None, :] <= m.skill_range[..., None])
        & (ratio[:, None, None, :] < HEAL_BELOW)
    ).any(3)  # (E, N, K)
    heal_ok = ready & hurt_near
    slot = np.where(heal_ok.any(2), heal_ok.argmax(2), -1)
    heal_action = np.where(slot >= 0, action_for_slot(slot, (m.skill_kind >= 0).sum(2)), -1)
    heals = (heal_action >= 0) & has_mate & np.isin(a, (R.HELP_ALLY, R.PROTECT_WEAK, R.GROUP_UP))

    own_d = np.where(own >= 0, np.take_along_axis(d, np.maximum(own, 0)[..., None], 2)[..., 0], INF)
    own_in_range = own_d <= m.attack_range
    walks = ~heals & ~placed & np.isin(a, (R.GROUP_UP, R.PROTECT_WEAK, R.FLANK_LEFT, R.FLANK_RIGHT))
    walks |= join & ~at_goal
    action = np.select(
        [heals, walks, (a == R.GROUP_UP) & ~own_in_range, aim < 0],
        [heal_action, np.full((E, N), IDLE), np.full((E, N), IDLE), np.full((E, N), MOVE_RANDOM)],
        ATTACK,
    )
    # SPLIT searches by MOVE_RANDOM with nobody to fight; the others ATTACK and let it fail, as the
    # primitive does.
    action = np.where((aim < 0) & (a != R.SPLIT) & ~heals & ~walks, ATTACK, action)
    # GROUP_UP keeps its target; the others aim first. A heal keeps the target too (the executor's
    # heal picks the packmate, not the target).
    target = np.where((a == R.GROUP_UP) | heals, m.target, aim)

    # What primitive_for reads.
    src = np.where(
        (m.target >= 0)[..., None], gather_pos(u.pos, m.target), gather_pos(u.pos, m.last_attacker)
    )
    has_src = (m.target >= 0) | ((m.last_attacker >= 0) & gather(u.alive, m.last_attacker))
    dot = (np.sign(goal - m.pos) * np.sign(src - m.pos)).sum(-1)
    toward = np.select(
        [(dot > 0) & (m.target >= 0), (dot < 0) & has_src], [MOVE_CLOSER, MOVE_AWAY], IDLE
    )
    situation = Situation(
        has_target=m.target >= 0,
        attack_reaches=(aim >= 0) & ((aim == m.target) | ((m.target < 0) & (aim == nearest))),
        change_reaches=(aim >= 0) & (aim == alt) & (aim != m.target),
        enemy=own >= 0,
        own_in_range=own_in_range,
        heal_action=np.where(has_mate, heal_action, -1).astype(np.int64),
        placed=placed,
        toward=toward.astype(np.int64),
    )
    return Plan(
        target=np.where(acting, target, m.target).astype(np.int64),
        action=np.where(acting, action, IDLE).astype(np.int64),
        walks=walks & acting,
        goal=goal,
        situation=situation,
    )


def pack_orders(
    pack_actions: I64, m: Monsters, p: Players, acting: B, wander: F64, map_size: int
) -> Orders:
    """The executor's orders for a step of pack actions (E, N) in [0, 7): the retarget
    (set-target), then the executor's primitive, or the walk to the recipe's cell (walk-to-cell).
    A stunned monster does nothing, as with any primitive."""
    pl = plan(pack_actions, m, p, acting, map_size)
    stunned = (m.status[..., STUN] > 0) & acting
    target = np.where(stunned, m.target, pl.target)
    retargeted = replace(m, target=target)
    orders = execute(retargeted, p, np.where(pl.walks, IDLE, pl.action), acting, wander, map_size)
    # A target set by the recipe from none is picked by the monster itself (started_fight).
    orders.acquired |= acting & ~stunned & (m.target < 0) & (target >= 0)
    walking = pl.walks & ~stunned
    moving = walking & m.can_move & (cells(pl.goal - m.pos) > 0)
    orders.goal = np.where(walking[..., None], pl.goal, orders.goal)
    orders.stop = np.where(walking, 0.0, orders.stop)
    orders.moving = np.where(walking, moving, orders.moving)
    orders.ai_state = np.where(walking, WALK_S, orders.ai_state)
    orders.failed = orders.failed | (walking & ~m.can_move)
    return orders


def single_primitives(pack_actions: I64, m: Monsters, p: Players, acting: B, map_size: int) -> I64:
    """`primitive_for` for every monster: the ten-primitive fallback of a step of pack actions."""
    s = plan(pack_actions, m, p, acting, map_size).situation
    action, _ = primitive_for(np.where(acting, pack_actions, R.FOCUS_FIRE), s)
    out: I64 = np.where(acting, action, IDLE).astype(np.int64)
    return out


# --- scripted pack policies (they read the 64 floats only) -----------------------------------

#: The contract's archetype dimension holds id / 5.
_ARCHETYPE_DIM = 8


def focus_fire_policy(obs: Observation) -> I64:
    """Every monster FOCUS_FIREs the leader's target."""
    out: I64 = np.where(obs.agent_mask, R.FOCUS_FIRE, 0).astype(np.int64)
    return out


def scripted_pack_policy(obs: Observation) -> I64:
    """The leader's plan, as the pack simulator's coordinated policy has it against a party: the
    support HELP_ALLYs (heals the packmate in most need, else hits its attacker), everyone else
    FOCUS_FIREs the leader's target."""
    arch = np.rint(obs.local_obs[..., _ARCHETYPE_DIM] * 5).astype(np.int64)
    act = np.where(arch == R.SUPPORT, R.HELP_ALLY, R.FOCUS_FIRE)
    out: I64 = np.where(obs.agent_mask, act, 0).astype(np.int64)
    return out
