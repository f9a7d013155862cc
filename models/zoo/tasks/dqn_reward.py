"""The archetype's reward for the DQN tasks (combat_dqn, skill_dqn): config/zoo.py's weights on what
the contract simulator measures of each monster in one step.

Terms measured, per monster and step (the unit each weight multiplies):
- `damage_dealt`, `sustained_damage`: damage it dealt, in % of the party's max hp;
  `spell_damage`: the part its skills dealt.
- `kills`: players that died this step after it hit them; `spell_kills` and `spell_kill_bonus`:
  those its skill hit (each weight is paid once per such kill).
- `damage_taken`: hp it lost, in % of its own max hp (net of heals); `damage_absorbed` the same
  counted for the tank as what it soaked; `damage_blocked`: what its armour absorbed of those
  hits, in % of its max hp.
- `deaths`: 1 the step it dies; `allies_died`: its packmates that died this step.
- `survival`: 1 for every step it ends alive; `survival_bonus`: 1 when the fight ends with it
  alive (the tank's "survival +150" is this bonus: `TERM_ALIASES`).
- `allies_protected`: its packmates alive at the end of a fight the pack won.
- `healing`: hp its heal restored plus overheal, in % of the pack's max hp; `effective_healing`:
  the part that restored missing hp.
- `buffs`: packmates (itself included) its blessing reached.
- `aggro_count`: living players targeting it at the step's start.
- `optimal_distance_bonus`: 1 when it ends the step at a distance to its target inside the
  archetype's band (config `optimal_distance`), from `target_distance` (cells, inf: none).
- `kiting`: 1 when it walked away from a target that stood within `KITING_CELLS` of it.

Not measured: `mana_efficiency` (the mage's, a ratio over a whole fight with no per-step meaning
here); its weight is ignored (`UNMEASURED`).

A monster's reward mixes its own and its pack's: (1 - team_weight) x own + team_weight x the mean
of the same weighted terms over the pack's monsters (config `team_weight`). `reward_scale`
(config) multiplies the reported episode reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from config.zoo import archetype_training
from models.envs.base import StepResult
from models.envs.contract_combat.execute import Orders
from models.envs.contract_combat.units import BLESSING, DAMAGE, HEAL, Monsters, Players
from models.envs.pack_combat.combat import chebyshev
from models.envs.pack_combat.rewards import DAMAGE_WEIGHT, DEATH_PENALTY, HEAL_WEIGHT

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: A target closer than this many cells that the monster walks away from counts as kiting.
KITING_CELLS = 3.0
TERM_ALIASES = {("tank", "survival"): "survival_bonus"}
UNMEASURED = frozenset({"mana_efficiency"})
#: Where the global state (env._global_state) keeps what the measures read after the step.
G_ALIVE, G_HP, G_POS, G_TARGET_D, G_PLAYERS = 0, 1, slice(3, 5), 13, slice(16, 48)


@dataclass
class Before:
    """What the measures need of the state at a step's start."""

    present: B
    alive: B
    hp_ratio: F64
    max_hp: F64
    armor: F64
    pos: F64
    target_d: F64  # cells to its target, inf without one
    party_max: F64  # (E,)
    pack_max: F64  # (E,)
    players_alive: B  # (E, M)
    aggro: F64  # players targeting each monster
    blessed_reach: F64  # packmates (itself included) its blessing would reach
    skill_kind: NDArray[np.int64]  # kind of the skill it uses this step, -1 none
    skill_power: F64  # that skill's power

    @classmethod
    def of(cls, m: Monsters, p: Players, orders: Orders) -> Before:
        u = p.units
        d = chebyshev(m.pos, u.pos)
        target_d = np.where(
            m.target >= 0,
            np.take_along_axis(d, np.maximum(m.target, 0)[..., None], 2)[..., 0],
            np.inf,
        )
        slot = np.maximum(orders.skill, 0)[..., None]
        kind = np.where(orders.skill >= 0, np.take_along_axis(m.skill_kind, slot, 2)[..., 0], -1)
        reach = np.take_along_axis(m.skill_range, slot, 2)[..., 0]
        mates = (chebyshev(m.pos, m.pos) <= reach[..., None]) & m.alive[:, None, :]
        n = m.alive.shape[1]
        targeted = (p.target[:, :, None] == np.arange(n)) & u.alive[:, :, None]
        return cls(
            present=m.present.copy(),
            alive=m.alive.copy(),
            hp_ratio=m.hp / np.maximum(m.max_hp, 1e-9),
            max_hp=m.max_hp.copy(),
            armor=m.armor.copy(),
            pos=m.pos.copy(),
            target_d=target_d,
            party_max=np.maximum((u.max_hp * u.present).sum(1), 1.0),
            pack_max=np.maximum((m.max_hp * m.present).sum(1), 1.0),
            players_alive=u.alive.copy(),
            aggro=targeted.sum(1).astype(np.float64),
            blessed_reach=np.where(kind == BLESSING, mates.sum(2), 0).astype(np.float64),
            skill_kind=kind,
            skill_power=np.take_along_axis(m.skill_power, slot, 2)[..., 0],
        )


def measure(before: Before, orders: Orders, result: StepResult, map_size: int) -> dict[str, F64]:
    """Every term of the module docstring, (E, N) each, for one step: `before` and `orders` taken
    at its start, `result` the step's result (its terminal global state is the world after the
    step, before any auto-reset)."""
    g = result.terminal_global_state.astype(np.float64)
    span = float(map_size - 1)
    acted = before.alive
    alive_after = (g[..., G_ALIVE] > 0.5) & acted
    died = acted & ~alive_after
    hp_lost = np.where(acted, np.maximum(before.hp_ratio - g[..., G_HP], 0.0), 0.0) * 100.0
    hp_lost = np.where(died, before.hp_ratio * 100.0, hp_lost)

    kind = before.skill_kind
    healing = kind == HEAL
    # The environment's individual reward is DAMAGE_WEIGHT x own damage / party max hp, or (a
    # step it heals: one action a step, so no damage) HEAL_WEIGHT x effective heal / pack max hp,
    # less DEATH_PENALTY on death: either part is recovered exactly.
    own = result.individual_rewards.astype(np.float64) + DEATH_PENALTY * died
    dealt = np.where(acted & ~healing, own * 100.0 / DAMAGE_WEIGHT, 0.0)
    effective_heal = np.where(acted & healing, own * 100.0 / HEAL_WEIGHT, 0.0)
    power = before.skill_power
    heal_target = np.maximum(orders.heal_target, 0)
    raw_heal = np.where(
        orders.heal_target >= 0,
        power * np.take_along_axis(before.max_hp, heal_target, 1),
        0.0,
    )
    spell = acted & (kind == DAMAGE)

    players_after = g[..., G_PLAYERS].reshape(*g.shape[:2], -1, 8)[..., 0].max(1) > 0.5
    p_died = before.players_alive & ~players_after  # (E, M)
    hit_player = np.where(orders.attacking, orders.target, orders.skill_target)
    killed = np.take_along_axis(p_died, np.maximum(hit_player, 0), 1) & (hit_player >= 0) & acted

    done = result.done
    won = done & (players_after.sum(1) == 0) & alive_after.any(1)
    pack_died = died.sum(1, keepdims=True).astype(np.float64)
    mates_alive = alive_after.sum(1, keepdims=True) - alive_after

    target_after = np.where(g[..., G_TARGET_D] < 1.0, g[..., G_TARGET_D] * span, np.inf)
    moved = (np.round(g[..., G_POS] * span) != before.pos).any(-1) & alive_after
    kiting = moved & (before.target_d <= KITING_CELLS) & (target_after > before.target_d)
    blocked = hp_lost * before.armor / np.maximum(1.0 - before.armor, 1e-9)

    def as_float(x: NDArray[np.generic]) -> F64:
        return np.where(acted, x, 0).astype(np.float64)

    return {
        "damage_dealt": dealt,
        "sustained_damage": dealt,
        "spell_damage": np.where(spell, dealt, 0.0),
        "kills": as_float(killed),
        "spell_kills": as_float(killed & spell),
        "spell_kill_bonus": as_float(killed & spell),
        "damage_taken": hp_lost,
        "damage_absorbed": hp_lost,
        "damage_blocked": blocked,
        "deaths": as_float(died),
        "allies_died": as_float(pack_died - died),
        "survival": as_float(alive_after),
        "survival_bonus": as_float(alive_after & done[:, None]),
        "allies_protected": as_float(mates_alive * won[:, None]),
        "healing": np.where(acted, raw_heal * 100.0 / before.pack_max[:, None], 0.0),
        "effective_healing": effective_heal,
        "buffs": as_float(before.blessed_reach),
        "aggro_count": as_float(before.aggro),
        "target_distance": np.where(acted, target_after, np.inf),
        "kiting": as_float(kiting),
    }


def in_band(distance: F64, archetype: str) -> F64:
    """1 where `distance` lies in the archetype's optimal band (none: 0 everywhere)."""
    band = archetype_training(archetype).optimal_distance
    if band is None:
        return np.zeros(distance.shape)
    return ((distance >= band[0]) & (distance <= band[1])).astype(np.float64)


def weighted(terms: dict[str, F64], archetype: str, present: B) -> F64:
    """(E, N) reward of every monster under `archetype`'s weights: its own terms mixed with its
    pack's mean by the archetype's team weight."""
    config = archetype_training(archetype)
    own = np.zeros(present.shape)
    terms = {**terms, "optimal_distance_bonus": in_band(terms["target_distance"], archetype)}
    for name, weight in config.reward_weights.items():
        if name in UNMEASURED:
            continue
        term = TERM_ALIASES.get((archetype, name), name)
        own += weight * terms[term]
    pack = (own * present).sum(1, keepdims=True) / np.maximum(present.sum(1, keepdims=True), 1)
    tw = config.team_weight
    mixed: F64 = (1.0 - tw) * own + tw * pack
    return mixed
