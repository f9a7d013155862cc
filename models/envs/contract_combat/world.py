"""The map of a contract fight: cells with walls, water and cliffs, items and skill units on the
ground, the day/night clock and the map's pvp/gvg flags, plus the game server's constants the state
contract names but does not hold (walk speed bounds, the view area, the tick).

Every array is (E, ...): E fights at once. Per-cell figures the encoder needs (unwalkable cells in
the 7x7 around, walkable neighbours) are computed once per map at reset, so encoding a monster is a
look-up at its cell.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

# --- the game server's constants (rAthena src/map/map.hpp, battle config defaults) --------------
#: Walk speed bounds (ms per cell): dim 3 is can-move x (1 - norm(walk speed, MIN, MAX)).
MIN_WALK_SPEED, MAX_WALK_SPEED = 20.0, 1000.0
#: battle_config.area_size: the visible area around a unit.
AREA_SIZE = 14
#: A player within this many cells refreshes a monster's last_pcneartime (rAthena runs the mob AI
#: of every mob within AREA_SIZE * 2 of a player).
NEAR_RANGE = 2 * AREA_SIZE
#: Milliseconds of game time per environment step (one decision of the gateway).
STEP_MS = 300.0

# --- the state contract's radii -----------------------------------------------------------------
OBSTACLE_RADIUS = 3  # the 7x7 around a monster
ITEM_RANGE = 5
HAZARD_RANGE = 5
AREA_CONTROL_RANGE = 10

# --- cell types: dim 12 is type / 3 ---------------------------------------------------------------
GROUND, WALL, WATER, CLIFF = 0, 1, 2, 3
#: Walls and cliffs stop walking; water does not (rAthena's gat types 1 and 5 vs 3).
WALKABLE_TYPES = np.array([True, False, True, False])

MAP_SIZE = 24
MAX_ITEMS = 12
MAX_HAZARDS = 4
#: Obstacles per map: rectangles of 1-3 cells a side, walls or cliffs, and water patches.
N_BLOCKS, N_WATER = 6, 2
#: Cells within this Chebyshev radius of a side's centre are kept clear ground.
CLEAR_RADIUS = 3


@dataclass
class World:
    """The maps of E fights."""

    cell: NDArray[np.int8]  # (E, S, S) cell type
    walkable: B  # (E, S, S)
    blocked7: NDArray[np.int16]  # (E, S, S) unwalkable cells in the 7x7 around (outside counts)
    free8: NDArray[np.int8]  # (E, S, S) walkable neighbour cells of the 8
    day: B  # (E,)
    pvp: B
    gvg: B
    castle: B
    battleground: B
    item_pos: F64  # (E, I, 2)
    item_present: B  # (E, I)
    hazard_pos: F64  # (E, H, 2) skill units on the ground (the wizard's spells)
    hazard_ttl: I64  # (E, H) steps left, 0 = none
    hazard_power: F64  # (E, H) damage per step to monsters within 1 cell
    hazard_owner: I64  # (E, H) the player slot that cast it

    @classmethod
    def empty(cls, E: int, S: int = MAP_SIZE) -> World:
        z = np.zeros(E, bool)
        return cls(
            cell=np.zeros((E, S, S), np.int8),
            walkable=np.ones((E, S, S), bool),
            blocked7=np.zeros((E, S, S), np.int16),
            free8=np.zeros((E, S, S), np.int8),
            day=z.copy(),
            pvp=z.copy(),
            gvg=z.copy(),
            castle=z.copy(),
            battleground=z.copy(),
            item_pos=np.zeros((E, MAX_ITEMS, 2)),
            item_present=np.zeros((E, MAX_ITEMS), bool),
            hazard_pos=np.zeros((E, MAX_HAZARDS, 2)),
            hazard_ttl=np.zeros((E, MAX_HAZARDS), np.int64),
            hazard_power=np.zeros((E, MAX_HAZARDS)),
            hazard_owner=np.zeros((E, MAX_HAZARDS), np.int64),
        )

    @property
    def size(self) -> int:
        return int(self.cell.shape[1])

    def assign(self, ids: I64, other: World) -> None:
        """Environments `ids` take the maps of `other` (one row per id)."""
        for f in fields(self):
            getattr(self, f.name)[ids] = getattr(other, f.name)

    def refresh_cells(self) -> None:
        """Walkability and the per-cell counts, from `cell` (after editing a map by hand)."""
        self.walkable = WALKABLE_TYPES[self.cell]
        self.blocked7, self.free8 = cell_counts(self.walkable)


def cell_counts(walkable: B) -> tuple[NDArray[np.int16], NDArray[np.int8]]:
    """Unwalkable cells in the 7x7 around each cell and walkable cells of its 8 neighbours. A cell
    outside the map counts as unwalkable, as rAthena's map_getcell answers for it."""
    E, S, _ = walkable.shape
    r = OBSTACLE_RADIUS
    blocked = np.pad(~walkable, ((0, 0), (r, r), (r, r)), constant_values=True).astype(np.int32)
    # Box sums by a 2-D cumulative sum: window [x - r, x + r] on both axes.
    c = np.zeros((E, S + 2 * r + 1, S + 2 * r + 1), np.int32)
    c[:, 1:, 1:] = blocked.cumsum(1).cumsum(2)
    w = 2 * r + 1
    box7 = c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]
    free = np.pad(walkable, ((0, 0), (1, 1), (1, 1)), constant_values=False).astype(np.int8)
    around = sum(
        free[:, 1 + dx : 1 + dx + S, 1 + dy : 1 + dy + S]
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
        if (dx, dy) != (0, 0)
    )
    return box7.astype(np.int16), np.asarray(around, np.int8)


def new_maps(rng: np.random.Generator, k: int, S: int = MAP_SIZE) -> tuple[World, F64, F64]:
    """k new maps and, for each, the pack's and the party's centres (kept clear). The pack gathers
    on the west, the party on the east; a random mirror and transpose hide the absolute side."""
    cx = np.arange(S)[None, :, None]
    cy = np.arange(S)[None, None, :]
    cell = np.zeros((k, S, S), np.int8)
    x0 = rng.integers(6, S - 6, (k, N_BLOCKS))
    y0 = rng.integers(0, S, (k, N_BLOCKS))
    size = rng.integers(1, 4, (k, N_BLOCKS, 2))
    kind = np.where(rng.random((k, N_BLOCKS)) < 0.7, WALL, CLIFF)
    for b in range(N_BLOCKS):
        inside = (
            (cx >= x0[:, b, None, None])
            & (cx < (x0[:, b] + size[:, b, 0])[:, None, None])
            & (cy >= y0[:, b, None, None])
            & (cy < (y0[:, b] + size[:, b, 1])[:, None, None])
        )
        cell = np.where(inside, kind[:, b, None, None].astype(np.int8), cell)
    wx = rng.integers(0, S - 3, (k, N_WATER))
    wy = rng.integers(0, S - 3, (k, N_WATER))
    for b in range(N_WATER):
        inside = (
            (cx >= wx[:, b, None, None])
            & (cx < wx[:, b, None, None] + 3)
            & (cy >= wy[:, b, None, None])
            & (cy < wy[:, b, None, None] + 3)
            & (cell == GROUND)
        )
        cell = np.where(inside, np.int8(WATER), cell)
    mid = S // 2
    pack_c = np.stack([rng.integers(4, 7, k), rng.integers(mid - 3, mid + 3, k)], -1)
    party_c = np.stack([rng.integers(S - 7, S - 4, k), rng.integers(mid - 3, mid + 3, k)], -1)
    flip = rng.random((k, 2)) < 0.5
    for c in (pack_c, party_c):
        c[:, 0] = np.where(flip[:, 0], S - 1 - c[:, 0], c[:, 0])
        c[...] = np.where(flip[:, 1:], c[:, ::-1], c)
    for c in (pack_c, party_c):
        near = (np.abs(cx - c[:, 0, None, None]) <= CLEAR_RADIUS) & (
            np.abs(cy - c[:, 1, None, None]) <= CLEAR_RADIUS
        )
        # Water is walkable and may stay; walls and cliffs are cleared.
        cell = np.where(near & (cell != WATER), np.int8(GROUND), cell)
    world = World.empty(k, S)
    world.cell = cell
    world.refresh_cells()
    world.day = rng.random(k) < 0.6
    # Most hunting grounds are plain fields; a few fights happen on flagged maps (dim 19).
    flags = rng.random((k, 4))
    world.pvp, world.gvg = flags[:, 0] < 0.1, flags[:, 1] < 0.05
    world.castle, world.battleground = flags[:, 2] < 0.03, flags[:, 3] < 0.03
    # A few items already lie around the pack (dropped by earlier kills).
    n_items = rng.integers(0, 5, k)
    offset = rng.integers(-4, 5, (k, MAX_ITEMS, 2))
    item_pos = np.clip(pack_c[:, None, :] + offset, 0, S - 1).astype(np.float64)
    world.item_pos = item_pos
    world.item_present = np.arange(MAX_ITEMS)[None, :] < n_items[:, None]
    return world, pack_c.astype(np.float64), party_c.astype(np.float64)
