"""spatial_vit: a ViT-tiny over the local grid around a monster that predicts the danger map, the
damage the monster would take per step standing in each 8 x 8 block (grid.py defines the grid,
the danger and its unit: shares of the party's damage per step).

- Input: 4 x 32 x 32 cells centred on the monster (walkable, allies, enemies, hazards),
  flattened channel-first, row-major (grid.local_grid), recorded from contract fights the
  traditional AI plays, one grid per living monster of the archetype every SAMPLE_EVERY steps.
- Target: the 16 block dangers (grid.block_danger), computed exactly from the world by the
  simulator's rules (the players' attack ranges, their damage shares, the skill units); a block
  without a walkable cell is grid.UNREACHABLE (1.0).
- Model: a hybrid ViT: a small stem (GridViT) then the grid cut into 16 patches of 8 x 8 cells
  (one per block), a transformer encoder, one danger per patch token. Full: patch 8, embed 192,
  depth 12, heads 3 (the seed's ViT-tiny). Training turns grids by the square's 8 symmetries
  (`dihedral`, exact for this target).
- Answer (the database's argmin): the safest block, where a game server moves a monster that
  should back off (a hurt monster, a caster) or where a pack regroups.
- Metrics on grids of held-out fights (another seed): explained variance of the 16 dangers as
  served and over the reachable blocks only (the harder figure: unreachable blocks are easy),
  both with the bar 0.8; the share of contested grids (the reachable blocks' dangers differ by more
  than SAFE_TOLERANCE) whose predicted safest block is truly among the safest (its true danger
  within SAFE_TOLERANCE of the least; bar 0.8), beside the same share for a rule without a model
  (the reachable block farthest from any enemy), and the mean regret of the pick. No reward term
  of config/zoo.py applies: nothing acts.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from models.envs.contract_combat.env import ContractCombatEnv
from models.zoo.base import (
    Checkpoints,
    Evaluation,
    Trained,
    ZooSettings,
    explained_variance,
    run_module,
)
from models.zoo.tasks import grid as G
from models.zoo.tasks.tactics import traditional_step
from models.zoo.trainers.supervised import fit_task
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import GRID, GRID_CHANNELS, PATCH

#: A grid per living monster of the archetype every this many steps of a fight.
SAMPLE_EVERY = 6
#: Fights recorded side by side.
RECORD_ENVS = 64
#: Blocks within this share of the party's damage per step of the safest count as safest.
SAFE_TOLERANCE = 0.05
#: Grids of held-out fights that `evaluate` measures.
EVAL_GRIDS = 1500
EV_BAR, SAFEST_BAR = 0.8, 0.8

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"embed": 32, "depth": 1, "heads": 2, "stem": 8},
    "small": {"embed": 48, "depth": 2, "heads": 4, "stem": 4},
    "full": {"embed": 192, "depth": 12, "heads": 3, "stem": 16},
}
#: The stem's box filters: every cell within 1 (a knight's or a skill unit's reach) and within 7
#: (a hunter's, priest's or wizard's) of a cell.
STEM_REACHES = (1, 7)
#: Added to a code's grid total before dividing by it (a grid without players has none).
TOTAL_FLOOR = 1e-4
#: The patch embedding reads its maps averaged over POOL x POOL cells.
POOL = 2


class Block(nn.Module):
    """A pre-norm transformer block: self-attention then a 4x MLP, both residual."""

    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, w = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, w // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        # Written out rather than scaled_dot_product_attention: the same graph in every exporter.
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(w // self.heads), dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(b, t, w)
        x = x + self.proj(attended)
        out: torch.Tensor = x + self.mlp(self.norm2(x))
        return out


class Encoder(nn.Module):
    """Blocks then a final LayerNorm; `gradient_checkpointing` recomputes each block's
    activations in the backward pass (the trainer turns it on for CUDA)."""

    def __init__(self, width: int, depth: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.gradient_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        out: torch.Tensor = self.norm(x)
        return out


class EncoderModel(nn.Module):
    """A model around one Encoder: its `gradient_checkpointing` switch (which the supervised
    trainer turns on for CUDA) is the encoder's."""

    encoder: Encoder

    @property
    def gradient_checkpointing(self) -> bool:
        return self.encoder.gradient_checkpointing

    @gradient_checkpointing.setter
    def gradient_checkpointing(self, on: bool) -> None:
        self.encoder.gradient_checkpointing = on


class GridViT(EncoderModel):
    """(B, 4 * 32 * 32) grids -> (B, 16) block dangers: one patch token per block.

    The adaptation to the grid is a stem before the patches (a hybrid ViT): the enemies channel
    decoded into its class bits (grid.CLASS_CODE), a learned non-negative code per cell of the
    classes on it, and fixed box filters of the STEM_REACHES that spread the codes over the cells
    within each reach (banded matrix products, cheap on a CPU), masked to walkable cells. Each
    8 x 8 patch's embedding reads those maps and the raw channels averaged over POOL x POOL cells,
    plus per block: the maps' means over its walkable cells, the same over a learned positive
    total of the grid's codes (a player's share of the party's damage, when the codes are each
    class's damage) and the skill units' danger. Those per-block features also reach the output
    through one linear layer beside the encoder's head: the rule's own form is a weighted sum of
    them, and the encoder learns what it does not cover (players beyond the grid, overlaps)."""

    def __init__(self, embed: int, depth: int, heads: int, stem: int) -> None:
        super().__init__()
        channels, side = len(GRID_CHANNELS), GRID // PATCH
        self.side = side
        # Linear in the classes present: a cell's code is the sum of its players' codes.
        self.stem = nn.Linear(len(G.CLASS_CODE), stem, bias=False)
        for reach in STEM_REACHES:
            self.register_buffer(f"band{reach}", _band(reach), persistent=False)
        # The total's weights are softplus(normalizer): positive, so it never cancels to zero.
        self.normalizer = nn.Parameter(torch.zeros(stem))
        width = channels + stem * len(STEM_REACHES)
        #: Per block: the reach maps' means (share), the same over the party's total (relative),
        #: and the skill units' danger.
        reach_features = 2 * stem * len(STEM_REACHES) + 1
        self.patch = nn.Linear(width * (PATCH // POOL) ** 2 + reach_features, embed)
        self.position = nn.Parameter(torch.randn(1, side * side, embed) * 0.02)
        self.encoder = Encoder(embed, depth, heads)
        self.head = nn.Linear(embed, 1)
        self.direct = nn.Linear(reach_features, 1, bias=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        b, s, n = inputs.shape[0], self.side, len(GRID_CHANNELS)
        grid = inputs.reshape(b, n, GRID, GRID)
        # The enemies channel's bits (grid.CLASS_CODE): which classes stand on each cell.
        value = torch.round(grid[:, G.ENEMIES] * (1.0 / float(G.CLASS_CODE[0])))
        bits = torch.stack(
            [torch.remainder(torch.floor(value / 2**c), 2.0) for c in range(len(G.CLASS_CODE))],
            dim=-1,
        )
        # Never negative, so the totals below are sums of non-negative terms.
        codes = torch.relu(self.stem(bits)).permute(0, 3, 1, 2)
        walkable = grid[:, :1]
        reached = []
        for reach in STEM_REACHES:
            band = self.get_buffer(f"band{reach}")
            reached.append(band @ codes @ band * walkable)
        maps = torch.cat([grid, *reached], dim=1)
        c, cells = maps.shape[1], PATCH // POOL
        pooled = F.avg_pool2d(maps, POOL)
        # (B, C, rows, cols) -> (B, block row, block col, C, cells, cells): one token per block.
        patches = pooled.reshape(b, c, s, cells, s, cells).permute(0, 2, 4, 1, 3, 5)
        # Each block's mean of the reach maps over its walkable cells: how a block's danger is
        # defined (grid.block_danger), so the token holds it up to the learned codes' scale.
        per_walkable = F.avg_pool2d(walkable, PATCH).clamp_min(1.0 / PATCH**2)
        share = F.avg_pool2d(torch.cat(reached, dim=1), PATCH) / per_walkable
        # The skill units' channel is a share of the party's damage already: their danger.
        band1 = self.get_buffer("band1")
        hazard = F.avg_pool2d(band1 @ grid[:, G.HAZARDS : G.HAZARDS + 1] @ band1 * walkable, PATCH)
        hazard = hazard / per_walkable
        # The same over a learned total of the grid's codes (the party's damage, when the codes
        # are each class's damage): a player's share of the party's.
        weights = F.softplus(self.normalizer)
        total = (codes.sum((2, 3)) * weights).sum(1, keepdim=True)[..., None, None]
        relative = share / (total + TOTAL_FLOOR)
        features = torch.cat(
            [
                patches.reshape(b, s * s, -1),
                *(f.flatten(2).transpose(1, 2) for f in (share, relative, hazard)),
            ],
            dim=2,
        )
        tokens = self.patch(features) + self.position
        # The reach features also reach the output directly: a danger that is a weighted sum of
        # them (the rule's form) need not pass through the encoder.
        direct = self.direct(features[..., -self.direct.in_features :])
        out: torch.Tensor = (self.head(self.encoder(tokens)) + direct).squeeze(-1)
        return out


def _band(reach: int) -> torch.Tensor:
    """(GRID, GRID) ones where two rows are within `reach`: A @ X @ A sums X over each cell's
    (2 reach + 1)^2 box (the map is symmetric, so one matrix serves both sides)."""
    index = torch.arange(GRID)
    return ((index[:, None] - index[None, :]).abs() <= reach).float()


def dihedral(
    grids: torch.Tensor, danger: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k-th of the square's 8 symmetries (k % 4 quarter turns, then a flip when k >= 4) of
    flattened grids and their block dangers. The danger map is a function of what the grid
    holds and Chebyshev reach is symmetric, so the turned grid's danger is the turned map (the
    block edges, at multiples of 8 cells, map onto block edges)."""
    b, side = grids.shape[0], GRID // PATCH
    g = grids.reshape(b, len(GRID_CHANNELS), GRID, GRID)
    d = danger.reshape(b, side, side)
    g, d = torch.rot90(g, k % 4, (2, 3)), torch.rot90(d, k % 4, (1, 2))
    if k >= 4:
        g, d = torch.flip(g, (3,)), torch.flip(d, (2,))
    return g.reshape(b, -1), d.reshape(b, -1)


def record_grids(archetype: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """n grids (flattened) around monsters of `archetype` and their block dangers, from fights
    the traditional AI plays on the monsters' side."""
    arch = ARCHETYPES.index(archetype)
    env = ContractCombatEnv(RECORD_ENVS, seed=seed)
    rng = np.random.default_rng(seed)
    obs = env.reset()
    grids: list[np.ndarray] = []
    dangers: list[np.ndarray] = []
    got, step = 0, 0
    while got < n:
        if step % SAMPLE_EVERY == 0:
            g, d = grids_of(env, arch)
            grids.append(g.reshape(len(g), -1))
            dangers.append(d)
            got += len(g)
        obs, _ = env.step(traditional_step(env, obs, rng))
        step += 1
    return {
        "x": np.concatenate(grids)[:n],
        "y": np.concatenate(dangers)[:n].astype(np.float32),
    }


def grids_of(env: ContractCombatEnv, arch: int) -> tuple[np.ndarray, np.ndarray]:
    """The grids (k, 4, 32, 32) and block dangers (k, 16) of the living monsters of `arch` in
    every fight of `env` now."""
    m, u, w = env.monsters, env.players.units, env.world
    e, n = np.nonzero(m.alive & (m.arch == arch))
    others = m.alive[e] & (np.arange(m.alive.shape[1])[None, :] != n[:, None])
    damage = G.party_damage(u.cls[e], u.alive[e], u.atk[e])
    live = w.hazard_ttl[e] > 0
    hazard_share = np.where(live, w.hazard_power[e] / np.maximum(damage, 1e-9)[:, None], 0.0)
    centre = m.pos[e, n]
    walk = G.walkable_window(centre, w.walkable[e])
    grids = G.local_grid(
        centre,
        w.walkable[e],
        m.pos[e],
        others,
        u.pos[e],
        u.cls[e],
        u.alive[e],
        w.hazard_pos[e],
        hazard_share,
    )
    danger = G.cell_danger(u.pos[e], u.cls[e], u.alive[e], w.hazard_pos[e], hazard_share, centre)
    return grids, G.block_danger(danger, walk)


def _default_size(settings: ZooSettings) -> int:
    size: int = settings.pick(
        settings.samples_per_archetype, {"tiny": 800, "small": 6000, "full": 200_000}
    )
    return size


class SpatialViTTask:
    model_type = "spatial_vit"

    def build(self, archetype: str, profile: str) -> nn.Module:
        return GridViT(**SIZES[profile])

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        return record_grids(archetype, _default_size(settings), settings.seed)

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        net = init if init is not None else self.build(archetype, settings.profile)

        def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            x, y = batch["x"], batch["y"]
            if model.training:
                x, y = dihedral(x, y, int(torch.randint(0, 8, ())))
            return F.mse_loss(model(x), y)

        return fit_task(
            net,
            loss,
            data,
            settings,
            epochs={"tiny": 40, "small": 200, "full": 300},
            batch_size={"tiny": 64, "small": 128, "full": 256},
            lr={"tiny": 2e-3, "small": 1e-3, "full": 3e-4},
            checkpoints=checkpoints,
            label=f"spatial_vit/{archetype}",
            patience=settings.pick(None, {"tiny": 40, "small": 8, "full": 10}),
            weight_decay=0.01,
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        n = settings.pick(None, {"tiny": 300, "small": EVAL_GRIDS, "full": EVAL_GRIDS})
        held = record_grids(archetype, n, settings.seed + 10_000)
        return measure(module, held["x"], held["y"])

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        out: np.ndarray = record_grids(archetype, n, seed)["x"]
        return out


def measure(module: nn.Module, grids: np.ndarray, danger: np.ndarray) -> Evaluation:
    """The Evaluation of `module` on grids with their true block dangers."""
    predicted = np.concatenate(
        [run_module(module, grids[i : i + 256]) for i in range(0, len(grids), 256)]
    )
    reachable = danger < G.UNREACHABLE
    spread = np.where(reachable, danger, -np.inf).max(1) - danger.min(1)
    contested = spread > SAFE_TOLERANCE
    hits = G.safest_hits(predicted, danger, SAFE_TOLERANCE)
    # A rule without the model: the reachable block whose centre is farthest from any enemy.
    baseline = G.safest_hits(_farthest_block(grids, reachable), danger, SAFE_TOLERANCE)
    heldout = {
        "explained_variance": explained_variance(predicted, danger),
        "explained_variance_reachable": explained_variance(predicted[reachable], danger[reachable]),
        "safest_hit_rate": float(hits.mean()),
        "safest_hit_rate_contested": float(hits[contested].mean()) if contested.any() else 1.0,
        "baseline_safest_hit_rate_contested": float(baseline[contested].mean())
        if contested.any()
        else 1.0,
        "contested_share": float(contested.mean()),
        # What picking the predicted block costs over the truly safest, in party-damage shares.
        "safest_regret": float(
            (danger[np.arange(len(danger)), predicted.argmin(1)] - danger.min(1)).mean()
        ),
    }
    return Evaluation(
        episodes=len(grids),
        explained_variance=heldout["explained_variance"],
        action_count=int(danger.shape[1]),
        heldout=heldout,
        heldout_bars={
            "explained_variance": (">", EV_BAR),
            "explained_variance_reachable": (">", EV_BAR),
            "safest_hit_rate_contested": (">", SAFEST_BAR),
        },
    )


def _farthest_block(grids: np.ndarray, reachable: np.ndarray) -> np.ndarray:
    """(B, 16) minus the distance from each block's centre to the nearest enemy (higher = nearer
    an enemy), unreachable blocks last: argmin picks the reachable block farthest from enemies."""
    enemies = grids.reshape(len(grids), len(GRID_CHANNELS), GRID, GRID)[:, G.ENEMIES] > 0
    side = GRID // PATCH
    centres = (np.arange(side) * PATCH + PATCH / 2 - 0.5)[:, None]
    rows, cols = np.meshgrid(centres[:, 0], centres[:, 0], indexing="ij")
    score = np.zeros((len(grids), side * side))
    for b in range(len(grids)):
        ei, ej = np.nonzero(enemies[b])
        if ei.size:
            gap = np.maximum(
                np.abs(rows.ravel()[:, None] - ei[None]), np.abs(cols.ravel()[:, None] - ej[None])
            ).min(1)
            score[b] = -gap
    out: np.ndarray = np.where(reachable, score, np.inf)
    return out


TASK = SpatialViTTask()
