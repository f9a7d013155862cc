"""spatial_vit: the local grid holds what stands around the monster where the layout says, the
danger map is the players' reach weighted by their share of the party's damage (hand-built
cases), the square's symmetries map grids onto their danger maps, and a tiny training beats
predicting the mean danger on grids of held-out fights."""

from __future__ import annotations

import numpy as np
import torch

from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.pack_combat.rules import HUNTER, KNIGHT
from models.zoo.base import NoCheckpoints, ZooSettings, run_module
from models.zoo.tasks import grid as G
from models.zoo.tasks.spatial_vit import TASK, dihedral, grids_of, record_grids
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import GRID, GRID_CHANNELS, zoo_type

S = 24


def one(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array with a batch axis of one."""
    return [a[None] for a in arrays]


def danger_of(
    centre: tuple[int, int], players: list[tuple[int, int, int]], walkable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Block dangers around `centre` of players (x, y, class), no skill units."""
    pos = np.array([[x, y] for x, y, _ in players], float)
    cls = np.array([c for _, _, c in players])
    c, p, k, live = one(np.array(centre, float), pos, cls, np.ones(len(players), bool))
    hz, hs = np.zeros((1, 1, 2)), np.zeros((1, 1))
    cells = G.cell_danger(p, k, live, hz, hs, c)
    return cells[0], G.block_danger(cells, G.walkable_window(c, walkable[None]))[0]


def test_the_grid_puts_everything_where_the_layout_says() -> None:
    walkable = np.ones((S, S), bool)
    walkable[12, 14] = False
    centre = np.array([10.0, 10.0])
    allies = np.array([[11.0, 10.0], [11.0, 10.0], [0.0, 0.0]])
    enemies = np.array([[12.0, 10.0], [10.0, 18.0]])
    grid = G.local_grid(
        *one(centre, walkable, allies, np.array([True, True, False]), enemies),
        *one(np.array([KNIGHT, HUNTER]), np.array([True, True])),
        *one(np.array([[9.0, 9.0]]), np.array([0.4])),
    )[0]
    assert grid.shape == (len(GRID_CHANNELS), GRID, GRID)
    half = GRID // 2
    walk = grid[G.WALKABLE]
    # Rows follow x: map cell (x, y) sits at (x - 10 + 16, y - 10 + 16).
    assert walk[12 - 10 + half, 14 - 10 + half] == 0
    assert walk[half, half] == 1
    # The map's 24 x 24 cells are rows and columns 6..29; the rest lies off the map.
    on_map = slice(half - 10, half + 14)
    assert walk.sum() == walk[on_map, on_map].sum() == S * S - 1
    assert grid[G.ALLIES, half + 1, half] == 2
    assert grid[G.ALLIES].sum() == 2
    assert grid[G.ENEMIES, half + 2, half] == G.CLASS_CODE[KNIGHT]
    assert grid[G.ENEMIES, half, half + 8] == G.CLASS_CODE[HUNTER]
    assert np.isclose(grid[G.HAZARDS, half - 1, half - 1], 0.4)
    flat = grid.reshape(-1)
    assert flat[G.ENEMIES * GRID * GRID + (half + 2) * GRID + half] == G.CLASS_CODE[KNIGHT]


def test_danger_is_the_share_of_the_party_that_reaches_a_block() -> None:
    walkable = np.ones((S, S), bool)
    cells, blocks = danger_of((10, 10), [(10, 10, HUNTER)], walkable)
    # A lone hunter on the monster's cell reaches 7 cells: the monster's block (2, 2) is fully
    # covered; block (1, 1) (offsets -8..-1) on 7 x 7 of its 64 cells; block (0, 0) not at all.
    assert cells.max() == 1.0
    assert blocks[2 * 4 + 2] == 1.0
    assert np.isclose(blocks[1 * 4 + 1], 49 / 64)
    assert blocks[0] == 0.0
    # Around a monster at (3, 3), block (0, 0) (x, y from -13 to -6) lies off the map:
    # unreachable, never the safest.
    _, corner = danger_of((3, 3), [(3, 3, HUNTER)], walkable)
    assert corner[0] == G.UNREACHABLE
    assert corner.argmin() != 0
    knight_share = 900.0 / (900.0 + 800.0)
    cells, _ = danger_of((10, 10), [(10, 10, HUNTER), (11, 10, KNIGHT)], walkable)
    half = GRID // 2
    assert np.isclose(cells[half, half], 1.0)  # both reach the monster's own cell
    assert np.isclose(cells[half + 5, half], 1 - knight_share)  # only the hunter's 7
    assert cells[half + 9, half] == 0.0


def test_a_block_is_the_mean_over_its_walkable_cells() -> None:
    walkable = np.ones((S, S), bool)
    # Block (2, 2) of a monster at (10, 10) spans x, y 10..17: make half of it unwalkable.
    walkable[10:14, 10:18] = False
    _, blocks = danger_of((10, 10), [(17, 10, KNIGHT)], walkable)
    # The knight reaches x 16..18, y 9..11: 2 x 2 = 4 cells of the 32 walkable ones left.
    assert np.isclose(blocks[2 * 4 + 2], 4 / 32)


def test_hazards_strike_within_one_cell() -> None:
    c = np.array([[5.0, 5.0]])
    none = np.zeros((1, 1, 2)), np.zeros((1, 1), np.int64), np.zeros((1, 1), bool)
    cells = G.cell_danger(*none, np.array([[[5.0, 6.0]]]), np.array([[0.3]]), c)[0]
    half = GRID // 2
    assert np.isclose(cells[half, half], 0.3)
    assert np.isclose(cells[half + 1, half + 2], 0.3)
    assert cells[half, half + 3] == 0.0
    assert np.isclose(cells.sum(), 0.3 * 9)


def test_symmetries_map_grids_onto_their_danger_maps() -> None:
    env = ContractCombatEnv(8, seed=3)
    grids, danger = grids_of(env, ARCHETYPES.index("mage"))
    for arch in range(1, 6):
        more_g, more_d = grids_of(env, arch)
        grids, danger = np.concatenate([grids, more_g]), np.concatenate([danger, more_d])
    # The danger computed from a grid's own contents is the recorded one (up to players beyond
    # the grid's edge, whose reach may cross it)...
    own = decoded_danger(grids)
    assert np.abs(own - danger).mean() < 0.05
    x = torch.as_tensor(grids.reshape(len(grids), -1))
    for k in range(8):
        gx, gy = dihedral(x, torch.as_tensor(own), k)
        # ... and that of a turned grid is the turned map.
        turned = gx.numpy().reshape(len(grids), len(GRID_CHANNELS), GRID, GRID)
        assert np.allclose(decoded_danger(turned), gy.numpy(), atol=1e-6), k


def decoded_danger(grids: np.ndarray) -> np.ndarray:
    """Block dangers from the grids' own contents: players decoded from the enemies channel's
    bits, skill units from the hazards channel, shares from the classes present."""
    out = np.zeros((len(grids), 16))
    half = GRID // 2
    for b, g in enumerate(grids):
        codes = np.rint(g[G.ENEMIES] * 8).astype(np.int64)
        ii, jj = np.nonzero(codes)
        players = [
            (int(i), int(j), c)
            for i, j in zip(ii, jj, strict=True)
            for c in range(4)
            if codes[i, j] >> c & 1
        ]
        hz = np.argwhere(g[G.HAZARDS] > 0)
        pos = np.array([[i - half, j - half] for i, j, _ in players] or [[0, 0]], float)
        cls = np.array([c for *_, c in players] or [0])
        live = np.array([True] * len(players) or [False])
        hpos = np.array(hz - half if len(hz) else [[0, 0]], float)
        hval = np.array([g[G.HAZARDS][i, j] for i, j in hz] or [0.0])
        p, k, alive, hp, hv = one(pos, cls, live, hpos, hval)
        cells = G.cell_danger(p, k, alive, hp, hv, np.zeros((1, 2)))
        out[b] = G.block_danger(cells, g[G.WALKABLE][None] > 0)[0]
    return out


def test_grids_from_the_simulator_centre_on_living_monsters_of_the_archetype() -> None:
    data = record_grids("tank", 40, seed=2)
    assert data["x"].shape == (40, zoo_type("spatial_vit").input_dim)
    assert data["y"].shape == (40, zoo_type("spatial_vit").output_dim)
    grids = data["x"].reshape(40, len(GRID_CHANNELS), GRID, GRID)
    half = GRID // 2
    assert (grids[:, G.WALKABLE, half, half] == 1).all()  # a monster stands on walkable ground
    assert (data["y"] >= 0).all()
    assert (data["y"] <= G.UNREACHABLE + 1).all()


def test_a_tiny_training_beats_the_mean_danger_on_held_out_fights() -> None:
    settings = ZooSettings(profile="tiny", seed=0)
    data = TASK.collect("ranged", settings)
    trained = TASK.train("ranged", settings, data, None, NoCheckpoints())
    held = record_grids("ranged", 300, seed=99)
    predicted = run_module(trained.module, held["x"])
    mean_guess = data["y"].mean(0, keepdims=True)
    model_mse = float(((predicted - held["y"]) ** 2).mean())
    guess_mse = float(((mean_guess - held["y"]) ** 2).mean())
    assert model_mse < 0.6 * guess_mse, (model_mse, guess_mse)
    assert predicted.shape == (300, 16)
