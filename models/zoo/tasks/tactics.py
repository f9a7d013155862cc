"""The adventurers' tactics (plpython/zoo_types.TACTICS) as a parameterization of the contract
simulator's player scripts, and a driver that runs fights with the traditional AI on the monsters'
side while the parties play a chosen tactic.

The simulator's players follow one script (models/envs/pack_combat/combat.adventurer_intents: the
knight rushes the nearest monster, the hunter snipes the most hurt one in range, the wizard drops
skill units where monsters crowd, the priest heals under 95% and steps away from contact). The
environment calls that function once per step; `playing` swaps in a policy, for the steps run
inside it, that starts from the script's intents and changes what a tactic changes. The
simulator's files stay as they are; its own step resolves the intents (damage, heals, skill units,
walking). The smallest change that would make this hook unnecessary: an `adventurer_policy`
argument to ContractCombatEnv, defaulting to adventurer_intents.

- melee_rush: every player (the ranged ones too) closes to contact with its nearest monster and
  strikes from there; nobody heals or steps back.
- kiting: ranged players keep KITE_MIN cells from the nearest monster (they step away, else shoot
  when in range, else close in); a knight strikes and steps back on alternate steps; the priest
  heals only in an emergency.
- healer_backed: the party plays around its priest (its fights always have one): the priest heals
  (the script's 95% rule) and keeps HEALER_DISTANCE from the monsters; the others fight within
  LEASH cells of it and fall back to it when hurt.
- focus_fire: the whole party attacks one monster, the least healthy one (nearest to the party on
  ties), closing to range; the priest heals only in an emergency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation
from models.envs.contract_combat import env as env_module
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import (
    Intents,
    Units,
    adventurer_intents,
    cells,
    chebyshev,
    gather,
    gather_pos,
)
from plpython.zoo_types import TACTICS

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

MELEE_RUSH, KITING, HEALER_BACKED, FOCUS_FIRE = range(len(TACTICS))
#: Kiters step away from a monster closer than this.
KITE_MIN = 3
#: The healer keeps at least this many cells from the nearest monster.
HEALER_DISTANCE = 4
#: Healer-backed fighters stay within this many cells of their priest...
LEASH = 3
#: ... and fall back to it under this share of their hp.
FALL_BACK_BELOW = 0.5
#: Outside healer_backed, the priest heals only a member under this share of its hp.
EMERGENCY_HEAL_BELOW = 0.4

AdventurerPolicy = Callable[[Units, Units, B, I64, B, int, int], Intents]


def _away(adv: Units, mon: Units, d_live: F64, within: float, map_size: int) -> F64:
    """(E, M, 2) the cell one step away from the monsters within `within` cells (its own cell
    where they pin it from opposite sides)."""
    close = d_live <= within
    push = (adv.pos[:, :, None, :] - mon.pos[:, None, :, :]) * close[..., None]
    out: F64 = np.clip(adv.pos + np.sign(push.sum(2)), 0, map_size - 1)
    return out


def tactic_intents(
    base: Intents, adv: Units, mon: Units, acting: B, tactic: I64, step: I64, map_size: int
) -> Intents:
    """The intents of parties playing `tactic` (E,), from the script's `base` intents; `step` (E,)
    is each fight's step count (the knight's hit-and-run alternates on it)."""
    E, M = acting.shape
    cls = adv.cls
    d_live = np.where(mon.alive[:, None, :], chebyshev(adv.pos, mon.pos), np.inf)
    nearest = d_live.argmin(2)
    d_near = d_live.min(2)
    any_mon = np.asarray(mon.alive.any(1))[:, None]
    rule = tactic[:, None]

    # The party's focus: the least healthy monster, nearest to the party's centre on ties.
    ratio = mon.hp / np.maximum(mon.max_hp, 1e-9)
    centre = (adv.pos * acting[..., None]).sum(1) / np.maximum(acting.sum(1), 1)[:, None]
    d_centre = cells(mon.pos - centre[:, None, :])
    focus = np.where(mon.alive, ratio + 1e-3 * d_centre, np.inf).argmin(1)

    target = np.select(
        [rule == MELEE_RUSH, rule == FOCUS_FIRE],
        [nearest, np.broadcast_to(focus[:, None], (E, M))],
        base.target,
    )
    target = np.where(any_mon, target, -1)
    d_target = np.take_along_axis(d_live, np.maximum(target, 0)[..., None], 2)[..., 0]
    reach = np.where(rule == MELEE_RUSH, 1.0, adv.range)
    in_reach = (target >= 0) & (d_target <= reach)
    goal = gather_pos(mon.pos, target)

    # Healing: the script's choice (95%) when backed by the healer, emergencies in the other
    # tactics, none in a rush.
    party_ratio = adv.hp / np.maximum(adv.max_hp, 1e-9)
    heal_ratio = np.where(base.heal_target >= 0, gather(party_ratio, base.heal_target), 1.0)
    healing = base.healing & np.select(
        [rule == HEALER_BACKED, rule == MELEE_RUSH],
        [np.ones_like(base.healing), np.zeros_like(base.healing)],
        heal_ratio < EMERGENCY_HEAL_BELOW,
    )

    # Who steps back instead of striking, and toward where.
    ranged = adv.range > 1
    kite_back = (rule == KITING) & np.where(ranged, d_near < KITE_MIN, (step[:, None] % 2) == 1)
    kite_back &= d_near <= np.where(ranged, KITE_MIN, 1)
    priest = cls == R.PRIEST
    has_priest = (priest & acting).any(1)[:, None]
    healer = np.where(priest & acting, 0, 1).argmin(1)
    healer_pos = gather_pos(adv.pos, np.broadcast_to(healer[:, None], (E, M)))
    d_healer = cells(adv.pos - healer_pos)
    backed = (rule == HEALER_BACKED) & has_priest & ~priest
    hurt = backed & (party_ratio < FALL_BACK_BELOW)
    fall_back = hurt | (backed & (d_healer > LEASH) & ~in_reach)
    shy_healer = (rule == HEALER_BACKED) & priest & (d_near < HEALER_DISTANCE)
    retreat = kite_back | shy_healer
    away = _away(adv, mon, d_live, float(max(KITE_MIN, HEALER_DISTANCE)), map_size)
    goal = np.where(retreat[..., None], away, np.where(fall_back[..., None], healer_pos, goal))

    attacking = acting & in_reach & ~healing & ~retreat & ~hurt
    moving = acting & ~attacking & ~healing & (retreat | fall_back | (target >= 0))
    # The healer-backed priest that is neither healing nor backing off follows the script (it
    # keeps near a party member); so do rows whose tactic changes nothing for a unit.
    keep_priest = (rule == HEALER_BACKED) & priest & ~healing & ~shy_healer
    return replace(
        base,
        target=target,
        attack=np.where(attacking, target, -1),
        attacking=np.where(keep_priest, base.attacking & ~healing, attacking),
        heal_target=np.where(healing, base.heal_target, -1),
        healing=healing,
        goal=np.where(keep_priest[..., None], base.goal, goal),
        moving=np.where(keep_priest, base.moving, moving),
        splash=attacking & (cls == R.WIZARD),
    )


@contextmanager
def playing(
    env: ContractCombatEnv, tactic: I64, seen: list[Intents] | None = None
) -> Iterator[None]:
    """Within the block, `env`'s parties play `tactic` (E,) instead of the script; each step's
    intents are appended to `seen` when given (what the monsters' side observes of the party)."""
    original = adventurer_intents

    def policy(
        adv: Units, mon: Units, acting: B, target: I64, prov: B, prov_range: int, size: int
    ) -> Intents:
        base = original(adv, mon, acting, target, prov, prov_range, size)
        out = tactic_intents(base, adv, mon, acting, tactic, env.t, size)
        if seen is not None:
            seen.append(out)
        return out

    # setattr: the name is the env module's import, not an attribute it exports.
    setattr(env_module, "adventurer_intents", policy)  # noqa: B010
    try:
        yield
    finally:
        setattr(env_module, "adventurer_intents", original)  # noqa: B010


def traditional_step(env: ContractCombatEnv, obs: Observation, rng: np.random.Generator) -> I64:
    """The traditional AI's actions for every monster of `env` (the game server's own AI)."""
    roll = rng.random(obs.agent_mask.shape)
    return traditional_actions(env.monsters, env.players, obs.agent_mask, roll)
