"""What the actors and the critic see: the 64-float local observation and the 64-float global state.

The dimension tables are in docs/simulator.md ("Observation"); the constants below name the blocks.
The local observation holds only what a monster perceives: itself, the adventurers within sight and
its packmates, all relative to itself and sorted by distance. The pack's focus target is marked in
it because the leader's attack_target signal names it in production (the signal vector carries its
threat, the game server's state vector carries the target). The global state is privileged: every
unit, absolute positions, hp and party strength, in fixed slot order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import Units, chebyshev

# Local observation blocks: own state, adventurer slots, ally slots.
OWN, ADV_BASE, ADV_FEATURES, ALLY_BASE, ALLY_FEATURES = 0, 16, 8, 48, 4
# Global state blocks: the agent, the adventurers by slot, the fight as a whole.
G_ADV_BASE, G_ADV_FEATURES, G_FIGHT = 16, 8, 48
#: Adventurers farther than this (Chebyshev cells) are not in a monster's view.
SIGHT = 12
#: Distances are divided by this so that relative offsets sit in about [-1.5, 1.5].
DIST_SCALE = 10.0


@dataclass
class EnvView:
    """Read-only bundle of the state the observation builders need."""

    mon: Units
    adv: Units
    adv_target: NDArray[np.int64]
    focus: NDArray[np.int64]
    leader: NDArray[np.int64]
    t: NDArray[np.int64]
    max_steps: int
    map_size: int
    kills: NDArray[np.int64]
    coordinated_kills: NDArray[np.int64]
    retreat: NDArray[np.bool_]

    def take(self, ids: NDArray[np.int64]) -> EnvView:
        """The same view restricted to environments `ids`."""
        return EnvView(
            mon=self.mon.take(ids),
            adv=self.adv.take(ids),
            adv_target=self.adv_target[ids],
            focus=self.focus[ids],
            leader=self.leader[ids],
            t=self.t[ids],
            max_steps=self.max_steps,
            map_size=self.map_size,
            kills=self.kills[ids],
            coordinated_kills=self.coordinated_kills[ids],
            retreat=self.retreat[ids],
        )


def _targeted_by(view: EnvView) -> NDArray[np.float64]:
    """(E, N) how many living adventurers have each monster as their current target."""
    N = view.mon.alive.shape[1]
    aimed = (view.adv_target[:, :, None] == np.arange(N)) & view.adv.alive[:, :, None]
    out: NDArray[np.float64] = aimed.sum(1).astype(np.float64)
    return out


def local_observation(view: EnvView) -> NDArray[np.float32]:
    """(E, N, 64) float32; rows of dead or padded monsters are filled but the caller zeroes them."""
    mon, adv = view.mon, view.adv
    E, N = mon.alive.shape
    M = adv.alive.shape[1]
    obs = np.zeros((E, N, R.OBS_DIM), np.float32)
    ratio = mon.hp / np.maximum(mon.max_hp, 1e-9)
    alive_f = mon.alive[..., None]
    centroid = (mon.pos * alive_f).sum(1) / np.maximum(alive_f.sum(1), 1)
    targeted = _targeted_by(view)
    d_ma = chebyshev(mon.pos, adv.pos)
    focus_d = np.take_along_axis(d_ma, np.maximum(view.focus, 0)[:, None, None].repeat(N, 1), 2)
    scale = view.map_size - 1

    obs[..., 0] = ratio
    # Share of the encounter's adventurers still standing: tells a fresh lone adventurer (1.0)
    # from the last survivor of a party (0.25-0.5), which call for different tactics.
    obs[..., 1] = (adv.alive.sum(1) / np.maximum(adv.present.sum(1), 1))[:, None]
    obs[..., 2:8] = np.eye(R.N_ARCHETYPES)[mon.cls]
    obs[..., 8] = np.arange(N)[None, :] == view.leader[:, None]
    obs[..., 9:11] = mon.pos / scale
    obs[..., 11:13] = (centroid[:, None, :] - mon.pos) / DIST_SCALE
    obs[..., 13] = targeted / R.MAX_ADV
    # Which side of the pack->focus axis I stand on (+1 left, -1 right, 0 on it): the side my
    # FLANK_LEFT / FLANK_RIGHT would take without crossing the target's front.
    focus_pos = np.take_along_axis(
        adv.pos, np.maximum(view.focus, 0)[:, None, None].repeat(2, 2), 1
    )
    axis = focus_pos - centroid[:, None, :]  # (E, 1, 2)
    off = mon.pos - centroid[:, None, :]
    obs[..., 14] = np.sign(axis[..., 0] * off[..., 1] - axis[..., 1] * off[..., 0])
    obs[..., 15] = (view.focus[:, None] >= 0) & (focus_d[..., 0] <= mon.range)

    # Adventurers in sight, nearest first (stable sort: ties keep slot order, deterministic).
    visible = adv.alive[:, None, :] & (d_ma <= SIGHT)
    order = np.argsort(np.where(visible, d_ma, np.inf), axis=2, kind="stable")
    rel = (adv.pos[:, None, :, :] - mon.pos[:, :, None, :]) / DIST_SCALE  # (E, N, M, 2)
    a_ratio = adv.hp / np.maximum(adv.max_hp, 1e-9)
    is_focus = np.arange(M)[None, :] == view.focus[:, None]
    feats = np.zeros((E, N, M, ADV_FEATURES))
    feats[..., 0] = visible
    feats[..., 1:3] = rel
    feats[..., 3] = a_ratio[:, None, :]
    feats[..., 4] = is_focus[:, None, :]
    feats[..., 5] = (adv.cls == R.PRIEST)[:, None, :]
    feats[..., 6] = (adv.cls == R.HUNTER)[:, None, :]
    feats[..., 7] = (adv.cls == R.WIZARD)[:, None, :]
    feats *= visible[..., None]
    feats = np.take_along_axis(feats, order[..., None], 2)
    obs[..., ADV_BASE : ADV_BASE + M * ADV_FEATURES] = feats.reshape(E, N, -1)

    # Living packmates, nearest first.
    mate = mon.alive[:, None, :] & mon.alive[:, :, None] & ~np.eye(N, dtype=bool)
    d_mm = chebyshev(mon.pos, mon.pos)
    order = np.argsort(np.where(mate, d_mm, np.inf), axis=2, kind="stable")[:, :, : N - 1]
    allies = np.zeros((E, N, N, ALLY_FEATURES))
    allies[..., 0:2] = (mon.pos[:, None, :, :] - mon.pos[:, :, None, :]) / DIST_SCALE
    allies[..., 2] = ratio[:, None, :]
    allies[..., 3] = targeted[:, None, :] / R.MAX_ADV
    allies *= mate[..., None]
    allies = np.take_along_axis(allies, order[..., None], 2)
    obs[..., ALLY_BASE : ALLY_BASE + (N - 1) * ALLY_FEATURES] = allies.reshape(E, N, -1)
    return obs


def global_state(view: EnvView) -> NDArray[np.float32]:
    """(E, N, 64) float32 for the critic; padded slots are zero."""
    mon, adv = view.mon, view.adv
    E, N = mon.alive.shape
    M = adv.alive.shape[1]
    g = np.zeros((E, N, R.GLOBAL_DIM), np.float32)
    scale = view.map_size - 1
    ratio = mon.hp / np.maximum(mon.max_hp, 1e-9)
    d_ma = np.where(adv.alive[:, None, :], chebyshev(mon.pos, adv.pos), np.inf)
    focus_d = np.take_along_axis(d_ma, np.maximum(view.focus, 0)[:, None, None].repeat(N, 1), 2)
    focus_d = np.where((view.focus >= 0)[:, None], focus_d[..., 0], np.inf)

    g[..., 0] = mon.alive
    g[..., 1] = ratio
    g[..., 2] = mon.max_hp / 250.0
    g[..., 3:5] = mon.pos / scale
    g[..., 5:11] = np.eye(R.N_ARCHETYPES)[mon.cls]
    g[..., 11] = np.arange(N)[None, :] == view.leader[:, None]
    g[..., 12] = _targeted_by(view) / R.MAX_ADV
    g[..., 13] = np.minimum(focus_d, 2 * scale) / scale
    g[..., 14] = focus_d <= mon.range
    g[..., 15] = np.minimum(d_ma.min(2), 2 * scale) / scale

    a_ratio = adv.hp / np.maximum(adv.max_hp, 1e-9)
    feats = np.zeros((E, M, G_ADV_FEATURES))
    feats[..., 0] = adv.alive
    feats[..., 1:3] = adv.pos / scale
    feats[..., 3] = a_ratio
    feats[..., 4] = adv.max_hp / 1000.0
    feats[..., 5] = adv.cls == R.PRIEST
    feats[..., 6] = adv.cls == R.HUNTER
    feats[..., 7] = adv.cls == R.WIZARD
    feats *= adv.present[..., None]
    g[..., G_ADV_BASE : G_ADV_BASE + M * G_ADV_FEATURES] = feats.reshape(E, 1, -1)

    pack_max = np.maximum((mon.max_hp * mon.present).sum(1), 1e-9)
    party_max = np.maximum((adv.max_hp * adv.present).sum(1), 1e-9)
    fight = np.zeros((E, 16))
    fight[:, 0] = view.t / view.max_steps
    fight[:, 1] = mon.alive.sum(1) / np.maximum(mon.present.sum(1), 1)
    fight[:, 2] = (mon.hp * mon.alive).sum(1) / pack_max
    fight[:, 3] = adv.alive.sum(1) / np.maximum(adv.present.sum(1), 1)
    fight[:, 4] = (adv.hp * adv.alive).sum(1) / party_max
    fight[:, 5 : 5 + M] = np.arange(M)[None, :] == view.focus[:, None]
    fight[:, 9] = mon.present.sum(1) / R.MAX_PACK
    fight[:, 10] = adv.present.sum(1) / R.MAX_ADV
    fight[:, 11] = view.kills / R.MAX_ADV
    fight[:, 12] = view.coordinated_kills / R.MAX_ADV
    fight[:, 13] = view.retreat
    fight[:, 14] = (adv.heal * adv.alive).sum(1) / 50.0
    fight[:, 15] = (adv.atk * adv.alive).sum(1) / 100.0
    g[..., G_FIGHT:] = fight[:, None, :]
    g *= mon.present[..., None]
    return g
