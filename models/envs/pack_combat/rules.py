"""Rules of the pack-combat simulator: unit tables, action ids, scenario knobs.

Everything here is data. The stats were tuned (bench/simulator.py --eval) so that the standard
scenario is won by coordination and not by the rAthena-style "attack the nearest" baseline; see
docs/simulator.md for the numbers and for why each mechanic exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# --- the seven pack actions (DESIGN.md order; the actor's output index) -------------------------
HELP_ALLY, GROUP_UP, SPLIT, FOCUS_FIRE, PROTECT_WEAK, FLANK_LEFT, FLANK_RIGHT = range(7)
ACTION_NAMES = (
    "HELP_ALLY",
    "GROUP_UP",
    "SPLIT",
    "FOCUS_FIRE",
    "PROTECT_WEAK",
    "FLANK_LEFT",
    "FLANK_RIGHT",
)
N_ACTIONS = 7

# --- dimensions ---------------------------------------------------------------------------------
MAX_PACK = 5  # agent slots per environment (padded; agent_mask says which are used)
MIN_PACK = 2
MAX_ADV = 4  # adventurer slots per environment
OBS_DIM = 64
SIGNAL_DIM = 32
GLOBAL_DIM = 64

# --- monster archetypes -------------------------------------------------------------------------
ARCHETYPES = ("aggressive", "defensive", "support", "mage", "tank", "ranged")
AGGRESSIVE, DEFENSIVE, SUPPORT, MAGE, TANK, RANGED = range(6)
N_ARCHETYPES = 6

# Columns: max hp, attack, attack range (cells, Chebyshev), speed (cells/step), armor (fraction of
# damage absorbed), heal (hp/tick, support only). Melee archetypes live longer; the ranged ones
# trade hp for reach (they can hit a priest behind its knight), so who does what matters.
MONSTER_STATS: NDArray[np.float64] = np.array(
    [
        # hp    atk  range speed armor heal
        [110.0, 13.0, 1.0, 2.0, 0.10, 0.0],  # aggressive: fast melee, catches kiters
        [130.0, 10.0, 1.0, 1.0, 0.25, 0.0],  # defensive: armoured melee, provokes
        [90.0, 4.0, 4.0, 1.0, 0.10, 12.0],  # support: heals a packmate in range
        [75.0, 15.0, 4.0, 1.0, 0.00, 0.0],  # mage: glass cannon
        [170.0, 8.0, 1.0, 1.0, 0.40, 0.0],  # tank: soaks damage, provokes on PROTECT_WEAK
        [85.0, 11.0, 5.0, 1.0, 0.10, 0.0],  # ranged: longest reach
    ]
)
HP, ATK, RANGE, SPEED, ARMOR, HEAL = range(6)
#: Archetypes whose PROTECT_WEAK provokes: adventurers close to them switch target to them.
PROVOKERS = (DEFENSIVE, TANK)

# --- adventurer classes -------------------------------------------------------------------------
CLASSES = ("knight", "hunter", "priest", "wizard")
KNIGHT, HUNTER, PRIEST, WIZARD = range(4)
N_CLASSES = 4

# Same columns as MONSTER_STATS, before the party is scaled to the pack (Scenario.difficulty).
ADVENTURER_STATS: NDArray[np.float64] = np.array(
    [
        # hp    atk  range speed armor heal
        # knight: melee rush, sticks to its target. Heavy armour: healed by a priest, it outlasts
        # a pack that hits it alone, which is what "attack the nearest" does.
        [260.0, 16.0, 1.0, 1.0, 0.55, 0.0],
        [140.0, 14.0, 5.0, 1.0, 0.10, 0.0],  # hunter: kites melee, snipes the weakest monster
        [150.0, 5.0, 5.0, 1.0, 0.10, 0.0],  # priest: heals (Scenario.priest_heal) the most hurt
        [120.0, 12.0, 5.0, 1.0, 0.00, 0.0],  # wizard: splash on the densest monster cluster
    ]
)
#: The leader's focus order (attack_target): healer first, then the splash caster, the kiter, the
#: knight. Also the `threat` each class carries in the attack_target signal: one slot per class
#: (floor(threat * 8) = 2, 4, 7, 5), so the signal alone tells an actor what the focus target is.
CLASS_FOCUS_PRIORITY: NDArray[np.float64] = np.array([0.0, 1.0, 3.0, 2.0])
CLASS_THREAT: NDArray[np.float64] = np.array([0.3, 0.5, 0.95, 0.7])

# Party compositions by size (classes in slot order). Every party of two or more carries a priest:
# it is the unit a pack must learn to reach through the knight.
PARTIES: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((KNIGHT,), (HUNTER,)),
    2: ((KNIGHT, PRIEST), (HUNTER, PRIEST)),
    3: ((KNIGHT, PRIEST, HUNTER), (KNIGHT, PRIEST, WIZARD)),
    4: ((KNIGHT, PRIEST, HUNTER, WIZARD),),
}


@dataclass(frozen=True)
class Scenario:
    """Knobs of one scenario; `standard` is the one the product's evidence is measured on."""

    name: str = "standard"
    #: Square map side, cells. Walls at the edges stop kiting eventually.
    map_size: int = 16
    #: Party strength relative to the pack, by party size (1-4 adventurers): hp and attack of every
    #: adventurer are multiplied by sqrt(difficulty * pack power / party power), with power = total
    #: hp * total attack (Lanchester's square law). Per size, because a lone adventurer offers a
    #: pack fewer tactics than a party does.
    difficulty: tuple[float, float, float, float] = (0.5, 0.24, 0.24, 0.24)
    #: The priest heals this share of the pack's summed attack per tick.
    priest_heal: float = 0.5
    #: Steps a monster's hit counts towards a "coordinated" kill (2+ distinct attackers).
    kill_window: int = 3
    #: Provoke reaches adventurers this close to a protecting tank/defensive monster.
    provoke_range: int = 2
    #: Extra damage taken by an adventurer hit from two opposite sides in one tick.
    flank_bonus: float = 1.0
    #: Splash radius of the wizard's spell around its target (Chebyshev).
    splash_radius: int = 1
    #: Damage multiplier range, uniform; the only randomness inside a fight.
    damage_jitter: float = 0.2
    #: Pack hp fraction under which the leader signals retreat.
    retreat_threshold: float = 0.35
    #: Own hp fraction under which a monster sends help_request.
    help_threshold: float = 0.5


SCENARIOS: dict[str, Scenario] = {"standard": Scenario()}
