"""Combat primitives of the simulator: unit arrays, what each pack action means, the adventurers'
scripts, and movement on the grid. Distances are Chebyshev (square cells, as rAthena's ranges).

Every function takes and returns whole (E, ...) arrays; no loop runs over environments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat import rules as R

T = TypeVar("T", bound=np.generic)
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]
INF = np.inf
#: Support monsters heal an ally under this hp fraction (and fight otherwise).
SUPPORT_HEAL_BELOW = 0.95
#: The priest heals a party member under this hp fraction.
PRIEST_HEAL_BELOW = 0.95
#: The knight keeps its target while it stays this close (rAthena mobs' "chase" stickiness).
KNIGHT_STICKY_RANGE = 2
#: The priest stays this close to a party member when nobody needs healing.
PRIEST_FOLLOW_RANGE = 2
#: Flankers with at most this range must stand on their side of the target to strike. Ranged ones
#: need not: walking round costs them more damage than the flank bonus brings back.
FLANK_SIDE_RANGE = 1


@dataclass
class Units:
    """One side's units, (E, K) arrays; positions (E, K, 2) integer-valued floats."""

    present: B
    alive: B
    cls: I64  # archetype (monsters) or class (adventurers)
    pos: F64
    hp: F64
    max_hp: F64
    atk: F64
    range: F64
    speed: F64
    armor: F64
    heal: F64

    @classmethod
    def empty(cls, E: int, K: int) -> Units:
        """E environments of K empty slots."""
        z = np.zeros((E, K))
        return cls(
            present=np.zeros((E, K), bool),
            alive=np.zeros((E, K), bool),
            cls=np.zeros((E, K), np.int64),
            pos=np.zeros((E, K, 2)),
            hp=z.copy(),
            max_hp=z.copy(),
            atk=z.copy(),
            range=z.copy(),
            speed=z.copy(),
            armor=z.copy(),
            heal=z.copy(),
        )

    def take(self, ids: I64) -> Units:
        """The units of environments `ids` (copies)."""
        return Units(
            present=self.present[ids],
            alive=self.alive[ids],
            cls=self.cls[ids],
            pos=self.pos[ids],
            hp=self.hp[ids],
            max_hp=self.max_hp[ids],
            atk=self.atk[ids],
            range=self.range[ids],
            speed=self.speed[ids],
            armor=self.armor[ids],
            heal=self.heal[ids],
        )

    def load(self, ids: I64, stats: F64, kind: I64, present: B, pos: F64) -> None:
        """Fill environments `ids` with fresh units; stats (K, slots, 6) as in the rules tables."""
        self.present[ids] = present
        self.alive[ids] = present
        self.cls[ids] = kind
        self.pos[ids] = pos
        self.max_hp[ids] = np.where(present, stats[..., R.HP], 0.0)
        self.hp[ids] = self.max_hp[ids]
        self.atk[ids] = stats[..., R.ATK]
        self.range[ids] = stats[..., R.RANGE]
        self.speed[ids] = stats[..., R.SPEED]
        self.armor[ids] = stats[..., R.ARMOR]
        self.heal[ids] = stats[..., R.HEAL]


@dataclass
class Intents:
    """What each unit does this tick: attack a slot of the other side, heal a slot of its own side,
    or move toward a goal cell (at most one of the three)."""

    target: I64  # (E, K) chosen target slot on the other side (attacked or approached), -1 none
    attack: I64  # (E, K) target slot actually attacked this tick, -1 none
    attacking: B
    heal_target: I64  # (E, K) own-side slot, -1 none
    healing: B
    goal: F64  # (E, K, 2)
    moving: B
    provoking: B  # (E, K) monsters only: draws nearby adventurers onto itself
    splash: B  # (E, K) adventurers only: the attack hits every monster around the target


def cells(offset: F64) -> F64:
    """Chebyshev length of (..., 2) offsets. Two element-wise ops: numpy's max over a length-2
    axis costs several times more, and this runs on every pair of units every tick."""
    out: F64 = np.maximum(np.abs(offset[..., 0]), np.abs(offset[..., 1]))
    return out


def chebyshev(a: F64, b: F64) -> F64:
    """Pairwise distances (E, A, B) between positions (E, A, 2) and (E, B, 2)."""
    dx = np.abs(a[:, :, None, 0] - b[:, None, :, 0])
    dy = np.abs(a[:, :, None, 1] - b[:, None, :, 1])
    out: F64 = np.maximum(dx, dy)
    return out


def gather(values: NDArray[T], index: I64) -> NDArray[T]:
    """values[e, index[e, k]] for (E, X) values and (E, K) indices (clipped at 0)."""
    return np.take_along_axis(values, np.maximum(index, 0), 1)


def gather_pos(pos: F64, index: I64) -> F64:
    """pos[e, index[e, k]] for (E, X, 2) positions: (E, K, 2)."""
    idx = np.maximum(index, 0)[:, :, None].repeat(2, -1)
    out: F64 = np.take_along_axis(pos, idx, 1)
    return out


def move_toward(pos: F64, goal: F64, speed: F64, map_size: int) -> F64:
    """Step of at most `speed` cells per axis (8-directional, Chebyshev) toward goal, inside the
    map. Units may share a cell, as rAthena mobs do."""
    step = np.clip(goal - pos, -speed[..., None], speed[..., None])
    out: F64 = np.clip(pos + step, 0, map_size - 1)
    return out


def monster_intents(
    mon: Units,
    adv: Units,
    actions: I64,
    acting: B,
    focus: I64,
    leader: I64,
    adv_target: I64,
    aim: I64,
    map_size: int,
) -> Intents:
    """The pack actions as primitives (docs/simulator.md, "Actions"): each action names a target
    adventurer and a goal cell; a monster attacks when its target is in range, else moves."""
    E, N = acting.shape
    d_ma = chebyshev(mon.pos, adv.pos)  # (E, N, M)
    d_live = np.where(adv.alive[:, None, :], d_ma, INF)
    nearest = d_live.argmin(2)
    ratio = mon.hp / np.maximum(mon.max_hp, 1e-9)

    mate = mon.alive[:, None, :] & mon.alive[:, :, None] & ~np.eye(N, dtype=bool)  # [e, n, j]
    has_mate = mate.any(2)
    most_hurt = np.where(mate, ratio[:, None, :], INF).argmin(2)
    # The ward PROTECT_WEAK guards: the most hurt packmate under attack, else the frailest one.
    N_idx = np.arange(N)
    attacked = ((adv_target[:, :, None] == N_idx) & adv.alive[:, :, None]).any(1)  # (E, N)
    ward_key = np.where(attacked, ratio, 10.0 + mon.max_hp / 1000.0)
    weakest = np.where(mate, ward_key[:, None, :], INF).argmin(2)

    # HELP_ALLY strikes the adventurer attacking the most hurt packmate (the nearest such to me),
    # or the adventurer nearest that packmate when nobody targets it.
    on_ally = (adv_target[:, None, :] == most_hurt[:, :, None]) & adv.alive[:, None, :]
    attacker = np.where(on_ally, d_ma, INF).argmin(2)
    near_ally = gather(nearest, most_hurt)
    help_adv = np.where(on_ally.any(2), attacker, near_ally)
    # PROTECT_WEAK faces the ward's attacker (the nearest such to me), else the adventurer nearest
    # the ward.
    on_ward = (adv_target[:, None, :] == weakest[:, :, None]) & adv.alive[:, None, :]
    protect_adv = np.where(
        on_ward.any(2), np.where(on_ward, d_ma, INF).argmin(2), gather(nearest, weakest)
    )
    focus_adv = np.broadcast_to(focus[:, None], (E, N))

    act = actions
    target = np.select(
        [
            (act == R.HELP_ALLY) & has_mate,
            (act == R.PROTECT_WEAK) & has_mate,
            act >= R.FLANK_LEFT,
            act == R.FOCUS_FIRE,
        ],
        [help_adv, protect_adv, focus_adv, focus_adv],
        nearest,
    )
    target = np.where((adv.alive.sum(1) > 0)[:, None] & (target >= 0), target, -1)
    target_pos = gather_pos(adv.pos, target)
    d_target = np.where(
        target >= 0, np.take_along_axis(d_ma, np.maximum(target, 0)[..., None], 2)[..., 0], INF
    )

    # Goals: the target's cell, except regrouping, interposing and flanking.
    alive_f = mon.alive[..., None]
    centroid = (mon.pos * alive_f).sum(1) / np.maximum(alive_f.sum(1), 1)  # (E, 2)
    leader_pos = gather_pos(mon.pos, np.broadcast_to(leader[:, None], (E, N)))
    is_leader = np.arange(N)[None, :] == leader[:, None]
    regroup = np.where(is_leader[..., None], np.round(centroid)[:, None, :], leader_pos)
    ward_pos = gather_pos(mon.pos, weakest)
    threat_pos = gather_pos(adv.pos, protect_adv)
    interpose = ward_pos + np.sign(threat_pos - ward_pos)
    # Once in place, the protector steps out at the threat (a ranged threat is not stopped by a
    # body in its line of fire; it must be engaged).
    in_place = cells(interpose - mon.pos) <= 1
    interpose = np.where(in_place[..., None], threat_pos, interpose)
    axis = target_pos - centroid[:, None, :]
    left = np.sign(np.stack([-axis[..., 1], axis[..., 0]], -1))
    reach = np.minimum(mon.range, 2.0)[..., None]
    flank_dir = np.where((act == R.FLANK_LEFT)[..., None], left, -left)
    flank = target_pos + flank_dir * reach
    flank = np.clip(flank, 0, map_size - 1)
    goal = target_pos.copy()
    goal = np.where(((act == R.GROUP_UP) & has_mate)[..., None], regroup, goal)
    goal = np.where(((act == R.PROTECT_WEAK) & has_mate)[..., None], interpose, goal)
    goal = np.where((act >= R.FLANK_LEFT)[..., None], flank, goal)

    in_range = d_target <= mon.range
    regrouped = cells(goal - mon.pos) <= 1
    # GROUP_UP regroups first and fights only from the group.
    may_attack = np.where((act == R.GROUP_UP) & has_mate, regrouped, True)
    # Melee flankers strike only from their side of the target: attacking on the way in would stop
    # them on the pack's side, which is no flank at all.
    side = ((mon.pos - target_pos) * flank_dir).sum(-1)
    on_flank = (side > 0) | (np.abs(flank_dir).sum(-1) == 0)
    may_attack &= np.where((act >= R.FLANK_LEFT) & (mon.range <= FLANK_SIDE_RANGE), on_flank, True)
    # Changing target costs a tick of wind-up (rAthena's attack motion restarts): a monster only
    # strikes the adventurer it was already aiming at. Commitment is part of coordination.
    may_attack &= target == aim
    attacking = acting & (target >= 0) & in_range & may_attack

    # Support monsters heal instead of fighting on the ally-bound actions, when the ally needs it.
    ally = np.select([act == R.PROTECT_WEAK], [weakest], most_hurt)
    ally_ratio = gather(ratio, ally)
    ally_pos = gather_pos(mon.pos, ally)
    d_ally = cells(ally_pos - mon.pos)
    wants_heal = (
        acting
        & (mon.cls == R.SUPPORT)
        & has_mate
        & ((act == R.HELP_ALLY) | (act == R.PROTECT_WEAK) | (act == R.GROUP_UP))
        & (ally_ratio < SUPPORT_HEAL_BELOW)
    )
    healing = wants_heal & (d_ally <= mon.range)
    attacking &= ~wants_heal
    goal = np.where((wants_heal & ~healing)[..., None], ally_pos, goal)
    moving = acting & ~attacking & ~healing & (target >= 0) & (cells(goal - mon.pos) > 0)
    moving &= ~((act == R.GROUP_UP) & has_mate & regrouped & ~wants_heal)

    provoking = acting & (act == R.PROTECT_WEAK) & has_mate & np.isin(mon.cls, R.PROVOKERS)
    return Intents(
        target=target,
        attack=np.where(attacking, target, -1),
        attacking=attacking,
        heal_target=np.where(healing, ally, -1),
        healing=healing,
        goal=goal,
        moving=moving,
        provoking=provoking,
        splash=np.zeros((E, N), bool),
    )


def adventurer_intents(
    adv: Units,
    mon: Units,
    acting: B,
    adv_target: I64,
    provoking: B,
    provoke_range: int,
    map_size: int,
) -> Intents:
    """The party's scripts (docs/simulator.md, "Adventurers")."""
    E, M = acting.shape
    cls = adv.cls
    d_am = chebyshev(adv.pos, mon.pos)  # (E, M, N)
    d_live = np.where(mon.alive[:, None, :], d_am, INF)
    nearest = d_live.argmin(2)
    in_range = d_live <= adv.range[..., None]
    ratio = mon.hp / np.maximum(mon.max_hp, 1e-9)

    # Knight: sticky melee rush on the nearest monster.
    current_ok = (adv_target >= 0) & (
        np.take_along_axis(d_live, np.maximum(adv_target, 0)[..., None], 2)[..., 0]
        <= KNIGHT_STICKY_RANGE
    )
    knight_t = np.where(current_ok, adv_target, nearest)
    # Hunter: snipes the most hurt monster in range.
    hunter_t = np.where(
        in_range.any(2), np.where(in_range, ratio[:, None, :], INF).argmin(2), nearest
    )
    # Wizard: the monster with most packmates inside the splash, nearest on ties.
    d_mm = chebyshev(mon.pos, mon.pos)
    crowd = ((d_mm <= 1) & mon.alive[:, None, :] & mon.alive[:, :, None]).sum(2)  # (E, N)
    wizard_score = np.where(in_range, crowd[:, None, :] * 100.0 - d_live, -INF)
    wizard_t = np.where(in_range.any(2), wizard_score.argmax(2), nearest)
    target = np.select(
        [cls == R.KNIGHT, cls == R.HUNTER, cls == R.WIZARD], [knight_t, hunter_t, wizard_t], nearest
    )
    # Provoke: a protecting tank/defensive monster close by takes the aggro (the priest ignores it).
    d_prov = np.where(provoking[:, None, :] & mon.alive[:, None, :], d_live, INF)
    provoked = (d_prov.min(2) <= provoke_range) & (cls != R.PRIEST)
    target = np.where(provoked, d_prov.argmin(2), target)
    target = np.where((mon.alive.sum(1) > 0)[:, None], target, -1)
    d_target = np.take_along_axis(d_live, np.maximum(target, 0)[..., None], 2)[..., 0]

    # Casters step away from an adjacent monster, unless pinned (monsters on opposite sides cancel
    # out) or cornered by the map edge.
    adjacent = d_live <= 1
    push = (adv.pos[:, :, None, :] - mon.pos[:, None, :, :]) * adjacent[..., None]
    away = np.sign(push.sum(2))
    flee_goal = np.clip(adv.pos + away, 0, map_size - 1)
    kiter = (cls == R.HUNTER) | (cls == R.PRIEST) | (cls == R.WIZARD)
    fleeing = acting & kiter & (cells(flee_goal - adv.pos) > 0)

    # Priest: heals the most hurt party member within range, else fights like the others but
    # keeps close to the party instead of advancing.
    mates = adv.alive[:, None, :]
    d_aa = chebyshev(adv.pos, adv.pos)
    party_ratio = adv.hp / np.maximum(adv.max_hp, 1e-9)
    needs = mates & (party_ratio[:, None, :] < PRIEST_HEAL_BELOW) & (d_aa <= adv.range[..., None])
    heal_t = np.where(needs, party_ratio[:, None, :], INF).argmin(2)
    healing = acting & (cls == R.PRIEST) & needs.any(2) & ~fleeing

    attacking = acting & (target >= 0) & (d_target <= adv.range) & ~fleeing & ~healing
    other = mates & ~np.eye(M, dtype=bool)
    buddy = np.where(other, d_aa, INF).argmin(2)
    follow = (cls == R.PRIEST) & (np.where(other, d_aa, INF).min(2) > PRIEST_FOLLOW_RANGE)
    goal = np.where(
        fleeing[..., None],
        flee_goal,
        np.where(
            (cls == R.PRIEST)[..., None], gather_pos(adv.pos, buddy), gather_pos(mon.pos, target)
        ),
    )
    approach = (cls != R.PRIEST) & (target >= 0)
    moving = acting & (fleeing | (~attacking & ~healing & (approach | follow)))
    return Intents(
        target=target,
        attack=np.where(attacking, target, -1),
        attacking=attacking,
        heal_target=np.where(healing, heal_t, -1),
        healing=healing,
        goal=goal,
        moving=moving,
        provoking=np.zeros((E, M), bool),
        splash=attacking & (cls == R.WIZARD),
    )


@dataclass
class Hits:
    """Damage of one tick after armor and flanking, by attacker and victim."""

    by_monsters: F64  # (E, N, M) what monster n dealt adventurer m
    by_adventurers: F64  # (E, M, N) what adventurer m dealt monster n
    flanked: B  # (E, M) adventurer struck from two opposite sides this tick


def resolve_hits(
    mon: Units,
    adv: Units,
    mi: Intents,
    ai: Intents,
    mon_roll: F64,
    adv_roll: F64,
    flank_bonus: float,
    splash_radius: int,
) -> Hits:
    """Every attack of the tick at once, on the positions at its start."""
    N, M = mon.alive.shape[1], adv.alive.shape[1]
    m_onehot = (mi.attack[:, :, None] == np.arange(M)) & mi.attacking[:, :, None]
    by_monsters = m_onehot * ((mon.atk * mon_roll)[:, :, None] * (1.0 - adv.armor[:, None, :]))
    # Flanking: an adventurer struck by two monsters on opposite sides of it (their offsets have a
    # negative dot product) takes `flank_bonus` more from every hit. Monsters walking in on one
    # target from the pack's side never achieve it; FLANK_LEFT with FLANK_RIGHT does.
    rel = mon.pos[:, :, None, :] - adv.pos[:, None, :, :]  # (E, N, M, 2)
    dots = np.einsum("eamk,ebmk->eabm", rel, rel)
    opposite = m_onehot[:, :, None, :] & m_onehot[:, None, :, :] & (dots < 0)
    flanked = opposite.any((1, 2))
    by_monsters = by_monsters * (1.0 + flank_bonus * flanked[:, None, :])

    # Adventurers: one target each, the wizard's spell also hits every monster around it.
    a_onehot = (ai.attack[:, :, None] == np.arange(N)) & ai.attacking[:, :, None]
    if ai.splash.any():
        center = gather_pos(mon.pos, ai.attack)  # (E, M, 2)
        near = chebyshev(center, mon.pos) <= splash_radius
        a_onehot = np.where(ai.splash[:, :, None], near & mon.alive[:, None, :], a_onehot)
    by_adventurers = a_onehot * ((adv.atk * adv_roll)[:, :, None] * (1.0 - mon.armor[:, None, :]))
    return Hits(by_monsters, by_adventurers, flanked)
