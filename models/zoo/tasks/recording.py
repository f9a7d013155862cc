"""Recordings of contract fights for the zoo's supervised tasks: the traditional AI plays every
monster (a share of its actions replaced by random ones, so the data covers states it would not
reach by itself), and each step keeps what the tasks learn from.

    rec = record_fights(n_fights=128, steps=100, seed=0)
    rec.states          # (T, E, 5, 64) the contract floats each monster saw before step t
    rec.player_damage   # (T, E, 4, 5) damage player m dealt monster n during step t (hp)
    rec.enemy           # (T, E, 5, 4, 8) ENEMY_FEATURES of each (monster, player) pair

Time runs along axis 0 (one step is STEP_MS of game time), the E fights in lockstep along axis 1;
a fight that ends is replaced by a new one (the environment's auto-reset), `episode` tells them
apart. Everything is recorded at the step's start except `hp_after` and `player_damage`, which
the step produced.

The environment does not report who hurt whom; `player_damage` replays the step's player side
before the step runs: the adventurers' scripts are deterministic given the world, and their damage
rolls are the step's third draw from the environment's generator, which is peeked from a copy.
tests/test_zoo_threat_assessment.py checks the replay against the monsters' hp.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.env import (
    HAZARD_SHARE,
    HAZARD_STEPS,
    PLAYER_JITTER,
    ContractCombatEnv,
    _add_at,
)
from models.envs.contract_combat.execute import N_ACTIONS
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.contract_combat.units import MAX_PACK, MAX_PLAYERS
from models.envs.contract_combat.world import AREA_SIZE, STEP_MS
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import adventurer_intents, chebyshev, gather
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import ENEMY_FEATURES

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Share of the monsters' actions drawn uniformly from the ten instead of the traditional AI's.
RANDOM_ACTION_SHARE = 0.15
#: Steps of the window behind `recent_damage_dealt`: about three seconds of game time.
RECENT_STEPS = round(3000 / STEP_MS)
#: An enemy's attack and recent damage are read in units of the monster's own max hp, and
#: normalized by these caps (a step costing 60% of its hp, three seconds costing it twice its hp,
#: are already the worst the simulator draws).
ATTACK_CAP = 0.6
#: A wizard's damage per step at full rate: one skill unit a step, each burning HAZARD_STEPS
#: steps, so a target standing in them takes this many times its attack per step.
WIZARD_RATE = HAZARD_SHARE * HAZARD_STEPS
RECENT_DAMAGE_CAP = 2.0
FEATURE = {name: i for i, name in enumerate(ENEMY_FEATURES)}


@dataclass
class Recording:
    """T steps of E fights; N = 5 monster slots, M = 4 player slots."""

    states: F32
    """(T, E, N, 64) the contract floats before the step (zeros for a slot that does not act)."""
    alive: B
    """(T, E, N) the monster is alive at the step's start."""
    arch: I64
    """(T, E, N) its archetype index (plpython.state_contract.ARCHETYPES)."""
    max_hp: F32
    """(T, E, N) its max hp."""
    episode: I64
    """(T, E) which fight the step belongs to (unique over the recording)."""
    done: B
    """(T, E) the fight ended with this step."""
    hp_after: F32
    """(T, E, N) hp / max hp after the step, before any reset (0: dead or no monster)."""
    player_damage: F32
    """(T, E, M, N) damage (hp) player m dealt living monster n during the step: its attacks and
    its skill units."""
    enemy: F32
    """(T, E, N, M, 8) ENEMY_FEATURES of the pair at the step's start, each in [0, 1]."""
    visible: B
    """(T, E, N, M) the monster is alive and the living player is within its view range."""

    @property
    def steps(self) -> int:
        return int(self.states.shape[0])

    def of_archetype(self, archetype: str) -> B:
        """(T, E, N) living monsters of `archetype`."""
        out: B = self.alive & (self.arch == ARCHETYPES.index(archetype))
        return out


def replay_player_damage(env: ContractCombatEnv) -> F64:
    """(E, M, N) the damage each player will deal each living monster in the environment's next
    step, whatever the monsters do (it reads the world at the step's start, as the step does)."""
    m, p, w = env.monsters, env.players, env.world
    u = p.units
    E, N = m.alive.shape
    M = u.alive.shape[1]
    # The step draws the monsters' wandering and rolls, then the players' rolls.
    rng = copy.deepcopy(env._rng)
    rng.uniform(-1.0, 1.0, (E, N, 2))
    rng.random((E, N))
    p_roll = rng.uniform(1 - PLAYER_JITTER, 1 + PLAYER_JITTER, (E, M))
    ai = adventurer_intents(
        u, m.as_units(), u.alive.copy(), p.target, np.zeros((E, N), bool), 0, w.size
    )
    dealt = np.zeros((E, M, N))
    direct = ai.attacking & (u.cls != R.WIZARD)
    _add_at(
        dealt, np.where(direct, ai.attack, -1), u.atk * p_roll * (1 - gather(m.armor, ai.attack))
    )
    # The wizards' skill units: place this step's on a copy of the ground, as the step does.
    ghost = copy.copy(env)
    ghost.world = dataclasses.replace(
        w,
        hazard_pos=w.hazard_pos.copy(),
        hazard_ttl=w.hazard_ttl.copy(),
        hazard_power=w.hazard_power.copy(),
        hazard_owner=w.hazard_owner.copy(),
    )
    ghost._place_hazards(ai.attacking & (u.cls == R.WIZARD), ai.attack, u.atk * p_roll)
    g = ghost.world
    near = (chebyshev(g.hazard_pos, m.pos) <= 1) & (g.hazard_ttl > 0)[..., None]  # (E, H, N)
    burn = near * g.hazard_power[..., None] * (1 - m.armor[:, None, :])
    owner = (g.hazard_owner[..., None] == np.arange(M)).astype(np.float64)  # (E, H, M)
    dealt += np.einsum("ehm,ehn->emn", owner, burn)
    out: F64 = dealt * m.alive[:, None, :]
    return out


def enemy_features(env: ContractCombatEnv, recent_damage: F64) -> tuple[F64, B]:
    """(E, N, M, 8) ENEMY_FEATURES of every (monster, player) pair and (E, N, M) which pairs are
    visible. `recent_damage` (E, M): hp each player took from the pack over the last
    RECENT_STEPS steps of this fight.

    distance: Chebyshev cells / AREA_SIZE (the game server's visible area); hp_ratio; level:
    norm(level, 1, 150) as the contract's threat dims; attack: the player's damage per step on
    one target at full rate (its attack; a wizard's WIZARD_RATE times it) as a share of this
    monster's max hp, / ATTACK_CAP; is_ranged: attack range above one cell;
    is_healer: a priest; targets_this_monster: the player's current target is this monster;
    recent_damage_dealt: its recent damage to the pack in this monster's max hp,
    / RECENT_DAMAGE_CAP. Each clipped to [0, 1]."""
    m, p = env.monsters, env.players
    u = p.units
    E, N = m.alive.shape
    M = u.alive.shape[1]
    d = chebyshev(m.pos, u.pos)  # (E, N, M)
    own_hp = np.maximum(m.max_hp, 1e-9)[..., None]
    f = np.zeros((E, N, M, len(ENEMY_FEATURES)))
    f[..., FEATURE["distance"]] = d / AREA_SIZE
    f[..., FEATURE["hp_ratio"]] = (u.hp / np.maximum(u.max_hp, 1e-9))[:, None, :]
    f[..., FEATURE["level"]] = ((p.level - 1) / 149)[:, None, :]
    rate = u.atk * np.where(u.cls == R.WIZARD, WIZARD_RATE, 1.0)
    f[..., FEATURE["attack"]] = rate[:, None, :] / own_hp / ATTACK_CAP
    f[..., FEATURE["is_ranged"]] = (u.range > 1)[:, None, :]
    f[..., FEATURE["is_healer"]] = (u.cls == R.PRIEST)[:, None, :]
    f[..., FEATURE["targets_this_monster"]] = p.target[:, None, :] == np.arange(N)[None, :, None]
    f[..., FEATURE["recent_damage_dealt"]] = recent_damage[:, None, :] / own_hp / RECENT_DAMAGE_CAP
    visible = m.alive[..., None] & u.alive[:, None, :] & (d <= m.view_range[..., None])
    f = np.clip(f, 0.0, 1.0) * visible[..., None]
    return f, visible


def record_fights(
    n_fights: int,
    steps: int,
    seed: int,
    *,
    random_share: float = RANDOM_ACTION_SHARE,
    scenario: str = "standard",
) -> Recording:
    """`steps` steps of `n_fights` contract fights in lockstep (fights last about 50 steps, so a
    slot plays several), the traditional AI deciding with `random_share` random actions."""
    env = ContractCombatEnv(n_fights, seed=seed, max_steps=100, scenario=scenario)
    rng = np.random.default_rng(seed + 1)
    obs = env.reset()
    E, N, M, T = n_fights, MAX_PACK, MAX_PLAYERS, steps
    rec = Recording(
        states=np.zeros((T, E, N, 64), np.float32),
        alive=np.zeros((T, E, N), bool),
        arch=np.zeros((T, E, N), np.int64),
        max_hp=np.zeros((T, E, N), np.float32),
        episode=np.zeros((T, E), np.int64),
        done=np.zeros((T, E), bool),
        hp_after=np.zeros((T, E, N), np.float32),
        player_damage=np.zeros((T, E, M, N), np.float32),
        enemy=np.zeros((T, E, N, M, len(ENEMY_FEATURES)), np.float32),
        visible=np.zeros((T, E, N, M), bool),
    )
    episode = np.arange(E)
    next_episode = E
    window = np.zeros((RECENT_STEPS, E, M))  # each player's damage to the pack, last steps
    for t in range(T):
        m = env.monsters
        rec.states[t] = obs.local_obs[..., :64]
        rec.alive[t], rec.arch[t], rec.max_hp[t] = m.alive, m.arch, m.max_hp
        rec.episode[t] = episode
        rec.enemy[t], rec.visible[t] = enemy_features(env, window.sum(0))
        dealt = replay_player_damage(env)
        rec.player_damage[t] = dealt
        actions = traditional_actions(m, env.players, m.alive, rng.random((E, N)))
        swap = rng.random((E, N)) < random_share
        actions = np.where(swap, rng.integers(0, N_ACTIONS, (E, N)), actions)
        obs, result = env.step(actions)
        rec.done[t] = result.done
        # hp ratio after the step, before the reset replaced finished fights (global dim 1).
        rec.hp_after[t] = result.terminal_global_state[..., 1]
        window = np.roll(window, 1, axis=0)
        window[0] = dealt.sum(2)
        ended = np.nonzero(result.done)[0]
        window[:, ended] = 0.0
        episode[ended] = next_episode + np.arange(ended.size)
        next_episode += ended.size
    return rec


def fights_in(rec: Recording) -> int:
    """Fights the recording holds (whole or in part)."""
    return int(np.unique(rec.episode).size)


def same_fight_ahead(rec: Recording, horizon: int) -> tuple[B, B]:
    """(T, horizon, E): whether step t + k (k = 0..horizon-1) is recorded and in step t's fight;
    and (T, E): whether t's future over `horizon` steps is known, i.e. its fight runs through
    them within the recording or ends inside them."""
    T, E = rec.episode.shape
    inside = np.zeros((T, horizon, E), bool)
    ends = np.zeros((T, horizon, E), bool)
    for k in range(horizon):
        inside[: T - k, k] = rec.episode[k:] == rec.episode[: T - k]
        ends[: T - k, k] = rec.done[k:]
    known: B = inside[:, -1] | (inside & ends).any(1)
    return inside, known


def capped_samples(
    data: dict[str, np.ndarray], cap: int | None, seed: int
) -> dict[str, np.ndarray]:
    """At most `cap` rows of equally long arrays, drawn without replacement (all of them when
    cap is None or not smaller): the run's --samples-per-archetype."""
    n = len(next(iter(data.values())))
    if cap is None or cap >= n:
        return dict(data)
    keep = np.random.default_rng(seed).permutation(n)[:cap]
    return {k: v[keep] for k, v in data.items()}
