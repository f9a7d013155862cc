"""The local grid around a monster (spatial_vit's input) and its danger map (the target), as pure
functions of positions, so the database (monster positions in ml.monsters plus what the game
server sends) builds exactly what the trainer built from the simulator's world.

Coordinates: a grid of GRID x GRID cells centred on the monster's cell; grid cell (i, j) is the
map cell (x - GRID/2 + i, y - GRID/2 + j), so rows follow the map's first coordinate (x), as the
simulator's arrays `walkable[x, y]` do, and the monster sits at (16, 16), in block (2, 2) = 10.
Channels (GRID_CHANNELS): walkable (1 where the cell is on the map and walkable), allies (the
number of the monster's living packmates on the cell, itself excluded), enemies (the sum of
CLASS_CODE over the living players on the cell: a party's classes are distinct, so a shared cell
keeps them apart), hazards (the skill units' damage per step, as a share of the party's damage per
step, `party_damage`). Everything is laid out channel-first, then row-major, when flattened.

Danger: what a monster standing on a cell would take per step if every living player able to
reach it attacked it, by the simulator's rules: a player strikes at most `attack range` cells away
(Chebyshev), a knight, hunter or priest for its attack, a wizard with a skill unit on the
monster's cell for HAZARD_SHARE of its attack; a live skill unit strikes every cell within one.
It is counted in shares of the party's damage per step (the sum of those figures over the living
players): the monster's armor scales both the same, so the map does not depend on the monster,
and the grid's class codes say each player's share. A block's danger is the mean over its
walkable cells; a block with none gets UNREACHABLE (the whole party's damage: never the safest).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.env import HAZARD_SHARE
from models.envs.contract_combat.units import PLAYER_ATK, PLAYER_RANGE
from models.envs.pack_combat import rules as R
from plpython.zoo_types import GRID, GRID_CHANNELS, PATCH

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

HALF = GRID // 2
BLOCKS = GRID // PATCH
WALKABLE, ALLIES, ENEMIES, HAZARDS = range(len(GRID_CHANNELS))
#: The enemies channel's value per class (knight, hunter, priest, wizard): one bit each.
CLASS_CODE: F64 = np.exp2(np.arange(R.N_CLASSES, dtype=np.float64)) / 8.0
#: A player's damage per step by class, before the party's scale: the wizard's is the skill unit
#: it puts on its target (a share of its attack), the others' their attack.
CLASS_DAMAGE: F64 = PLAYER_ATK * np.where(np.arange(R.N_CLASSES) == R.WIZARD, HAZARD_SHARE, 1.0)
#: A skill unit strikes monsters within this many cells of it.
HAZARD_REACH = 1
#: The danger of a block without a walkable cell.
UNREACHABLE = 1.0

#: (GRID, GRID, 2) each grid cell's offset from the centre cell.
_OFFSETS: I64 = np.stack(np.meshgrid(np.arange(GRID), np.arange(GRID), indexing="ij"), -1) - HALF


def _scatter(out: F64, offset: F64, present: B, value: F64) -> None:
    """out[b, i, j] += value[b, k] for the present points k whose offset lands inside the grid."""
    ij = np.rint(offset).astype(np.int64) + HALF
    inside = present & (ij >= 0).all(-1) & (ij < GRID).all(-1)
    b, k = np.nonzero(inside)
    np.add.at(out, (b, ij[b, k, 0], ij[b, k, 1]), value[b, k])


def walkable_window(centre: F64, walkable: B) -> B:
    """(B, GRID, GRID) walkability of the cells around `centre` (B, 2); off the map: False."""
    size = walkable.shape[1]
    cells = np.rint(centre).astype(np.int64)[:, None, None, :] + _OFFSETS[None]
    on_map = ((cells >= 0) & (cells < size)).all(-1)
    clipped = np.clip(cells, 0, size - 1)
    rows = np.arange(len(centre))[:, None, None]
    out: B = on_map & walkable[rows, clipped[..., 0], clipped[..., 1]]
    return out


def local_grid(
    centre: F64,
    walkable: B,
    allies: F64,
    ally_present: B,
    enemies: F64,
    enemy_class: I64,
    enemy_present: B,
    hazards: F64,
    hazard_share: F64,
) -> F32:
    """(B, 4, GRID, GRID) grids around `centre` (B, 2). walkable (B, S, S) is each grid's map;
    allies (B, K, 2) its living packmates (not itself); enemies (B, M, 2) the living players and
    their classes; hazards (B, H, 2) live skill units with their damage per step as a share of the
    party's (0 for none)."""
    n = len(centre)
    grid = np.zeros((n, len(GRID_CHANNELS), GRID, GRID))
    grid[:, WALKABLE] = walkable_window(centre, walkable)
    rel = centre[:, None, :]
    _scatter(grid[:, ALLIES], allies - rel, ally_present, np.ones(ally_present.shape))
    _scatter(grid[:, ENEMIES], enemies - rel, enemy_present, CLASS_CODE[enemy_class])
    _scatter(grid[:, HAZARDS], hazards - rel, hazard_share > 0, hazard_share)
    return grid.astype(np.float32)


def party_damage(enemy_class: I64, enemy_present: B, enemy_attack: F64) -> F64:
    """(B,) the party's damage per step: the sum over its living players (enemy_attack is each
    one's attack as the simulator scales it)."""
    scale = CLASS_DAMAGE[enemy_class] / PLAYER_ATK[enemy_class]
    out: F64 = (enemy_attack * scale * enemy_present).sum(1)
    return out


def cell_danger(
    enemies: F64,
    enemy_class: I64,
    enemy_present: B,
    hazards: F64,
    hazard_share: F64,
    centre: F64,
) -> F64:
    """(B, GRID, GRID) each cell's danger in shares of the party's damage per step (module doc).
    A player's share is its class's damage over the party's: the simulator scales every member's
    attack by the same party factor."""
    share = CLASS_DAMAGE[enemy_class] * enemy_present
    share = share / np.maximum(share.sum(1, keepdims=True), 1e-12)
    reach = PLAYER_RANGE[enemy_class]
    danger = np.zeros((len(centre), GRID, GRID))
    rel = centre[:, None, :]
    for points, weight, radius in (
        (enemies - rel, share, reach),
        (hazards - rel, hazard_share, np.full(hazard_share.shape, float(HAZARD_REACH))),
    ):
        for k in range(points.shape[1]):
            gap = np.abs(_OFFSETS[None] - np.rint(points[:, k, None, None, :])).max(-1)
            danger += (gap <= radius[:, k, None, None]) * weight[:, k, None, None]
    return danger


def block_danger(danger: F64, walkable: B) -> F64:
    """(B, BLOCKS**2) the mean danger over each PATCH x PATCH block's walkable cells, row-major;
    UNREACHABLE where a block has none."""
    n = len(danger)
    shape = (n, BLOCKS, PATCH, BLOCKS, PATCH)
    cells = walkable.reshape(shape).sum((2, 4))
    total = (danger * walkable).reshape(shape).sum((2, 4))
    out: F64 = np.where(cells > 0, total / np.maximum(cells, 1), UNREACHABLE)
    return out.reshape(n, BLOCKS * BLOCKS)


def safest_hits(predicted: F64, true: F64, tolerance: float) -> B:
    """Per grid: the predicted safest block (argmin) is among the truly safest, i.e. its true
    danger is within `tolerance` (shares of the party's damage) of the true minimum."""
    pick = predicted.argmin(1)
    chosen = true[np.arange(len(true)), pick]
    out: B = chosen <= true.min(1) + tolerance
    return out
