"""The seed's team reward and the individual reward, per tick (docs/simulator.md, "Rewards").

    team       = 10 * survival + 5 * coordinated_kills + 3 * formation + 2 * support
    individual = 10 * own damage / party max hp + 10 * own heal / pack max hp - 5 * [died]
    agent      = w * team + (1 - w) * individual        (w = team_reward_weight, 0.7)

The seed states the team reward per episode; spread over ticks, each term keeps the seed's weight
for an episode's worth: survival and kills are events (paid when they happen), formation quality is
paid 1 / max_steps per tick so a whole episode of perfect formation earns its 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat.combat import Units, chebyshev

F64 = NDArray[np.float64]
SURVIVAL_WEIGHT, KILL_WEIGHT, FORMATION_WEIGHT, SUPPORT_WEIGHT = 10.0, 5.0, 3.0, 2.0
DAMAGE_WEIGHT, HEAL_WEIGHT, DEATH_PENALTY = 10.0, 10.0, 5.0
#: Formation is good when the nearest living packmate is this many cells away (Chebyshev):
#: close enough to help, not on one cell (a wizard's splash hits the whole stack).
FORMATION_MIN, FORMATION_MAX = 1, 3
#: Heal and rescues count as support only for allies under this hp fraction.
LOW_HP = 0.5


@dataclass
class RewardTerms:
    """The four team terms before weighting, the weighted team reward, and the individual one."""

    survival: F64  # (E,) living / pack size on a victory tick, else 0
    coordinated_kills: NDArray[np.int64]  # (E,) kills this tick with 2+ recent attackers
    formation: F64  # (E,) formation quality this tick, in [0, 1]
    support: F64  # (E,) useful heal + rescue damage this tick / pack max hp
    team: F64  # (E,)
    individual: F64  # (E, N)


def formation_quality(mon: Units) -> F64:
    """Share of living monsters whose nearest living packmate is 1-3 cells away; a lone survivor
    has no formation (0)."""
    N = mon.alive.shape[1]
    d = chebyshev(mon.pos, mon.pos)
    pair = mon.alive[:, :, None] & mon.alive[:, None, :] & ~np.eye(N, dtype=bool)
    nearest = np.where(pair, d, np.inf).min(2)
    good = mon.alive & (nearest >= FORMATION_MIN) & (nearest <= FORMATION_MAX)
    out: F64 = good.sum(1) / np.maximum(mon.alive.sum(1), 1)
    return out


def heal_received(
    target: NDArray[np.int64], healing: NDArray[np.bool_], amount: F64, n_slots: int
) -> F64:
    """(E, n_slots) heal aimed at each slot: the sum over healers."""
    onehot = (target[:, :, None] == np.arange(n_slots)) & healing[:, :, None]
    out: F64 = (onehot * amount[:, :, None]).sum(1)
    return out


def heal_credit(
    target: NDArray[np.int64], healing: NDArray[np.bool_], landed: F64, n_slots: int
) -> F64:
    """(E, K) effective heal credited to each healer, split evenly when two heal one ally."""
    onehot = (target[:, :, None] == np.arange(n_slots)) & healing[:, :, None]
    per_target = landed / np.maximum(onehot.sum(1), 1)
    out: F64 = (onehot * per_target[:, None, :]).sum(2)
    return out


def reward_terms(
    *,
    victory: NDArray[np.bool_],
    mon: Units,
    coordinated_kills: NDArray[np.int64],
    useful_heal: F64,
    rescue_damage: F64,
    own_damage: F64,
    own_heal: F64,
    died: NDArray[np.bool_],
    party_max_hp: F64,
    max_steps: int,
) -> RewardTerms:
    """Rewards of one tick, from what happened in it (`mon` is the state after the tick)."""
    pack_max = np.maximum((mon.max_hp * mon.present).sum(1), 1.0)
    survival = np.where(victory, mon.alive.sum(1) / np.maximum(mon.present.sum(1), 1), 0.0)
    formation = formation_quality(mon)
    support = (useful_heal.sum(1) + rescue_damage.sum(1)) / pack_max
    team = (
        SURVIVAL_WEIGHT * survival
        + KILL_WEIGHT * coordinated_kills
        + FORMATION_WEIGHT * formation / max_steps
        + SUPPORT_WEIGHT * support
    )
    individual = (
        DAMAGE_WEIGHT * own_damage / np.maximum(party_max_hp, 1.0)[:, None]
        + HEAL_WEIGHT * own_heal / pack_max[:, None]
        - DEATH_PENALTY * died
    )
    return RewardTerms(survival, coordinated_kills, formation, support, team, individual)
