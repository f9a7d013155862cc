"""rAthena's traditional monster AI, approximated and written as the ten actions: the baseline a
trained pack must beat (docs/contract_combat.md, "The traditional AI").

- Skills first, by their conditions, in slot order, when ready (cooldown, SP, not silenced): heal
  when a packmate in range (itself included) is under HEAL_BELOW of its hp; damage when its target
  (or the nearest enemy in view) is in the skill's range; blessing when fighting and unblessed.
- Aggressive mobs chase and attack the nearest player in view (ATTACK: it closes in out of range).
- Passive mobs only retaliate: once hit (provoked) they attack.
- Assist mobs join when a packmate in view is some player's target; slaves when their master
  fights.
- Otherwise they stand or wander (MOVE_RANDOM a third of the time, unless in no-random-walk mode);
  looters pick items up on the way (the environment does that, there is no loot action).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.envs.base import Observation
from models.envs.contract_combat.execute import (
    ATTACK,
    IDLE,
    MOVE_RANDOM,
    SKILL_1,
    SKILL_3,
    skill_slot,
)
from models.envs.contract_combat.units import (
    BLESSING,
    DAMAGE,
    HEAL,
    MAX_SKILLS,
    SILENCE,
    Monsters,
    Players,
)
from models.envs.pack_combat.combat import chebyshev, gather

I64 = NDArray[np.int64]
#: Heal a packmate under this share of its hp (rAthena's "friendhpltmaxrate" condition).
HEAL_BELOW = 0.6
#: Share of idle ticks a mob allowed to wander starts a random walk.
WANDER_RATE = 1.0 / 3.0


def action_for_slot(slot: I64, n_skills: I64) -> I64:
    """The SKILL_k action that reaches `slot` for a monster with `n_skills` skills."""
    out = np.full(slot.shape, -1, np.int64)
    for action in range(SKILL_3, SKILL_1 - 1, -1):
        reaches = skill_slot(np.full(slot.shape, action), n_skills) == slot
        out = np.where(reaches, action, out)
    return out


def traditional_actions(
    m: Monsters, p: Players, acting: NDArray[np.bool_], roll: NDArray[np.float64]
) -> I64:
    """(E, N) action ids; `roll` (E, N) uniform draws decide wandering."""
    E, N = m.alive.shape
    u = p.units
    d = chebyshev(m.pos, u.pos)
    in_view = u.alive[:, None, :] & (d <= m.view_range[..., None])
    nearest = np.where(in_view.any(2), np.where(in_view, d, np.inf).argmin(2), -1)
    has_t = m.target >= 0
    sk_t = np.where(has_t, m.target, nearest)
    sk_d = np.where(
        sk_t >= 0, np.take_along_axis(d, np.maximum(sk_t, 0)[..., None], 2)[..., 0], np.inf
    )
    ratio = m.hp / np.maximum(m.max_hp, 1e-9)
    d_mm = chebyshev(m.pos, m.pos)
    fighting = has_t | m.provoked

    n_skills = (m.skill_kind >= 0).sum(2)
    chosen = np.full((E, N), -1, np.int64)
    for s in range(MAX_SKILLS - 1, -1, -1):  # the first slot whose condition holds wins
        kind = m.skill_kind[..., s]
        ready = (
            (kind >= 0)
            & (m.skill_cd[..., s] <= 0)
            & (m.sp >= m.skill_sp[..., s])
            & (m.status[..., SILENCE] == 0)
        )
        reach = m.skill_range[..., s]
        hurt = (
            m.alive[:, None, :] & (d_mm <= reach[..., None]) & (ratio[:, None, :] < HEAL_BELOW)
        ).any(2)
        cond = np.select(
            [kind == HEAL, kind == DAMAGE, kind == BLESSING],
            [hurt, sk_d <= reach, fighting & (m.blessed == 0)],
            False,
        )
        chosen = np.where(ready & cond, s, chosen)
    skill_action = action_for_slot(chosen, n_skills)

    slot = np.arange(N)
    targeted = ((p.target[:, :, None] == slot[None, None, :]) & u.alive[:, :, None]).any(1)
    mate_attacked = (
        m.alive[:, None, :] & targeted[:, None, :] & (d_mm <= m.view_range[..., None])
    ).any(2)
    master_fights = (m.master >= 0) & gather(m.target >= 0, m.master)
    engage = has_t | (
        (nearest >= 0) & (m.aggressive | m.provoked | (m.assist & mate_attacked) | master_fights)
    )
    wander = ~m.no_random_walk & (roll < WANDER_RATE) & m.can_move
    act = np.where(
        chosen >= 0, skill_action, np.where(engage, ATTACK, np.where(wander, MOVE_RANDOM, IDLE))
    )
    out: I64 = np.where(acting, act, IDLE).astype(np.int64)
    return out


class TraditionalPolicy:
    """The traditional AI as a policy over the environment's observations (it reads the
    environment's world, as the game server's own AI does, not the 64 floats)."""

    def __init__(self, env: object, seed: int = 0) -> None:
        from models.envs.contract_combat.env import ContractCombatEnv

        if not isinstance(env, ContractCombatEnv):
            raise TypeError("TraditionalPolicy drives a ContractCombatEnv")
        self.env = env
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: Observation) -> I64:
        env = self.env
        roll = self.rng.random(obs.agent_mask.shape)
        return traditional_actions(env.monsters, env.players, obs.agent_mask, roll)
