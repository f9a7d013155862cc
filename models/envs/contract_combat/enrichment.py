"""Pack features the database can compute from `ml.monsters`, appended to the contract's 64 floats.

The game server's 64 floats carry almost no pack awareness (dims 22-28 are proxies of the master
link). The database knows more: `ml.monsters` holds every monster's cell (x, y), hp_ratio,
archetype and leadership_score, and pack formation (plpython/pack_formation.py) groups them into
packs of 2-5 with one leader. `pack_features` computes, for each monster, what those columns give
about its pack; `ContractCombatEnv(enrich=True)` appends them to `local_obs` (docs/enrichment.md
reports whether they help).

Only what the table holds is read: cell positions, the hp ratio, which slots hold living pack
members, and the leader. In the simulator every fight is one pack and the leader is the rule the
environment's signals already use (`recipes.leader_and_focus`: the master while it lives, else the
living monster with the most max hp); in the database it is pack formation's leader (the highest
leadership_score). A dead monster is gone from the table, so it counts as an empty slot.

Features per monster (K = 22), all zero for a dead monster or an empty slot:

| index | feature |
|---|---|
| 0 | pack size: living members / 5 |
| 1 | is the leader (1 / 0) |
| 2, 3 | offset to the leader (dx, dy) / 10, clipped to [-1, 1] (0 for the leader itself) |
| 4 + 4k .. 7 + 4k | packmate k (k = 0..3, see below): dx / 10, dy / 10 (clipped), hp ratio, alive |
| 20 | the pack's mean hp ratio over its living members (itself included) |
| 21 | the pack's minimum hp ratio over its living members (itself included) |

Packmates are the other four slots in slot order, skipping itself (slot 2 sees slots 0, 1, 3, 4);
an empty slot or a dead packmate gives four zeros. Offsets are packmate cell - own cell in cells
(x, then y), so 10 cells (pack formation's radius) maps to 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.units import MAX_PACK, Monsters

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Packmates described per monster (the other slots of a pack of MAX_PACK).
N_MATES = MAX_PACK - 1
#: Features per packmate: dx, dy, hp ratio, alive.
MATE_FEATURES = 4
#: Number of features `pack_features` returns per monster.
K = 4 + N_MATES * MATE_FEATURES + 2
#: Offsets are divided by this many cells (pack formation's default radius) and clipped to [-1, 1].
OFFSET_SCALE = 10.0
#: (N, N - 1): for slot i, the other slots in increasing order.
OTHERS: I64 = np.array([[j for j in range(MAX_PACK) if j != i] for i in range(MAX_PACK)], np.int64)


def pack_features(monsters: Monsters, leader: I64) -> F32:
    """(E, N, K) float32 pack features of each monster (the table in the module docstring).

    monsters: the pack of each of E fights (N = 5 slots); only `pos` (cells), `hp` / `max_hp`
    (the hp ratio) and `alive` are read. leader: (E,) the leader's slot, -1 where there is none.
    """
    return features_from_columns(
        monsters.pos, monsters.hp / np.maximum(monsters.max_hp, 1e-9), monsters.alive, leader
    )


def features_from_columns(pos: F64, hp_ratio: F64, alive: B, leader: I64) -> F32:
    """`pack_features` from the table's columns: pos (E, N, 2) cells, hp_ratio (E, N), alive
    (E, N) (the slot holds a living pack member), leader (E,) slot or -1."""
    E, N = alive.shape
    if N != MAX_PACK:
        raise ValueError(f"expected {MAX_PACK} slots, got {N}")
    alive_f = alive.astype(np.float64)
    ratio = np.where(alive, np.clip(hp_ratio, 0.0, 1.0), 0.0)
    out = np.zeros((E, N, K), np.float64)
    n_alive = alive_f.sum(1)
    out[..., 0] = (n_alive / MAX_PACK)[:, None]

    has_leader = (leader >= 0) & np.take_along_axis(alive, np.maximum(leader, 0)[:, None], 1)[:, 0]
    is_leader = (np.arange(N) == leader[:, None]) & has_leader[:, None]
    out[..., 1] = is_leader
    lead_pos = pos[np.arange(E), np.maximum(leader, 0)]  # (E, 2)
    to_leader = _offset(lead_pos[:, None, :] - pos)
    out[..., 2:4] = np.where((has_leader[:, None] & ~is_leader)[..., None], to_leader, 0.0)

    mate_pos = pos[:, OTHERS]  # (E, N, N-1, 2)
    mate_alive = alive[:, OTHERS]  # (E, N, N-1)
    mates = np.zeros((E, N, N_MATES, MATE_FEATURES))
    mates[..., 0:2] = _offset(mate_pos - pos[:, :, None, :])
    mates[..., 2] = ratio[:, OTHERS]
    mates[..., 3] = 1.0
    mates *= mate_alive[..., None]
    out[..., 4 : 4 + N_MATES * MATE_FEATURES] = mates.reshape(E, N, -1)

    mean = ratio.sum(1) / np.maximum(n_alive, 1.0)
    low = np.where(alive, ratio, np.inf).min(1)
    out[..., -2] = mean[:, None]
    out[..., -1] = np.where(np.isfinite(low), low, 0.0)[:, None]

    out *= alive_f[..., None]
    return out.astype(np.float32)


def _offset(delta: F64) -> F64:
    clipped: F64 = np.clip(delta / OFFSET_SCALE, -1.0, 1.0)
    return clipped
