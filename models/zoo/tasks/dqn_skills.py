"""Stable integer ids of the contract simulator's monster skills, as skill_dqn reads them.

A simulated skill is its five numbers in units.SKILL_TABLE (kind, delay ms, SP cost, power,
range); each is given the id of the rAthena skill it stands for, so a game server sends the
mob's real skill ids in the same columns. A skill table entry without an id here fails loudly
rather than reading as "no skill". Two entries may share an id (the defensive and the support
monsters' blessings are one skill at two levels); 0 means an empty slot.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.units import SKILL_TABLE, Monsters
from models.envs.pack_combat import rules as R

I64 = NDArray[np.int64]

#: (archetype, slot) -> rAthena skill id.
SKILL_IDS: dict[tuple[int, int], int] = {
    (R.AGGRESSIVE, 0): 5,  # SM_BASH: a melee strike, 1.8 x attack
    (R.DEFENSIVE, 0): 34,  # AL_BLESSING
    (R.DEFENSIVE, 1): 56,  # KN_PIERCE: a melee strike, 1.5 x attack
    (R.SUPPORT, 0): 28,  # AL_HEAL
    (R.SUPPORT, 1): 34,  # AL_BLESSING
    (R.SUPPORT, 2): 14,  # MG_COLDBOLT: 1.2 x attack at 5 cells
    (R.MAGE, 0): 19,  # MG_FIREBOLT: 1.6 x attack at 9 cells
    (R.MAGE, 1): 84,  # WZ_JUPITEL: 2.8 x attack at 9 cells, 40 SP
    (R.RANGED, 0): 46,  # AC_DOUBLE: 1.7 x attack at 9 cells
}

#: The skill table's entries, (kind, delay, sp, power, range) -> id.
SPEC_IDS: dict[tuple[float, ...], int] = {
    tuple(float(x) for x in SKILL_TABLE[a][s]): skill_id for (a, s), skill_id in SKILL_IDS.items()
}
assert len(SPEC_IDS) == sum(len(v) for v in SKILL_TABLE.values()), "a skill without an id"


def skill_ids(m: Monsters) -> I64:
    """(E, N, MAX_SKILLS) the id of every monster's skill in each slot, 0 where empty."""
    ids = np.zeros(m.skill_kind.shape, np.int64)
    columns = (m.skill_kind, m.skill_delay, m.skill_sp, m.skill_power, m.skill_range)
    for spec, skill_id in SPEC_IDS.items():
        match = np.ones(ids.shape, bool)
        for column, value in zip(columns, spec, strict=True):
            match &= column == value
        ids[match] = skill_id
    unknown = (m.skill_kind >= 0) & (ids == 0)
    if unknown.any():
        raise ValueError("a monster skill missing from dqn_skills.SKILL_IDS")
    return ids
