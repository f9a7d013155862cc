"""Monsters and players of the contract fights, and drawing new ones.

Monsters carry everything the game server reads to fill the 64 floats: archetype, level, hp/sp,
the two attack values, walk speed and can-move, view and chase ranges, up to three skills (kind,
delay, remaining cooldown, SP cost), statuses with durations, the AI state and mode flags,
master/slave links, time alive and the last time a player was near, and whether it started the
fight or was provoked. Players are the pack simulator's adventurers (`Units`, same classes and
scripts) with a level, which the threat dims read.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from models.envs.contract_combat.world import STEP_MS
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import Units

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

MAX_PACK, MAX_PLAYERS, MAX_SKILLS = 5, 4, 3
MIN_PACK = 2
# Skill kinds (-1: the slot is empty).
NO_SKILL, DAMAGE, HEAL, BLESSING = -1, 0, 1, 2
# Statuses simulated (of the contract's ten): steps left in (E, N, 4).
STUN, POISON, SILENCE, BLIND = range(4)
N_STATUSES = 4
#: The monster AI states the contract encodes (rAthena's MSS_*), by index.
AI_STATES = ("idle", "walk", "loot", "rush", "follow", "berserk", "angry", "dead", "other")
IDLE_S, WALK_S, LOOT_S, RUSH_S, FOLLOW_S, BERSERK_S, ANGRY_S, DEAD_S, OTHER_S = range(9)

# Archetype table (the contract's order: aggressive, defensive, support, mage, tank, ranged).
# Columns: max hp, atk1, atk2, defence (share of damage absorbed), attack range, view range,
# chase range, walk speed (ms per cell), max sp. rAthena-like magnitudes at level 70.
MONSTER_TABLE: F64 = np.array(
    [
        [5000.0, 400.0, 600.0, 0.10, 1.0, 10.0, 12.0, 150.0, 100.0],
        [7000.0, 300.0, 400.0, 0.25, 1.0, 8.0, 12.0, 200.0, 80.0],
        [4000.0, 150.0, 250.0, 0.10, 4.0, 10.0, 12.0, 200.0, 200.0],
        [3500.0, 450.0, 650.0, 0.00, 5.0, 10.0, 12.0, 200.0, 250.0],
        [10000.0, 250.0, 350.0, 0.40, 1.0, 7.0, 10.0, 300.0, 50.0],
        [4000.0, 350.0, 500.0, 0.10, 7.0, 12.0, 14.0, 200.0, 100.0],
    ]
)
HP, ATK1, ATK2, DEF, RANGE, VIEW, CHASE, WALK, SP = range(9)
# Skills by archetype, slot order: (kind, delay ms, sp cost, power, range). Damage power multiplies
# the mean attack; heal power is the share of the ally's max hp restored; blessing lasts
# BLESSING_STEPS on every packmate within range.
SKILL_TABLE: dict[int, tuple[tuple[int, float, float, float, float], ...]] = {
    R.AGGRESSIVE: ((DAMAGE, 3000.0, 15.0, 1.8, 1.0),),
    R.DEFENSIVE: ((BLESSING, 9000.0, 20.0, 0.0, 3.0), (DAMAGE, 4000.0, 10.0, 1.5, 1.0)),
    R.SUPPORT: (
        (HEAL, 3000.0, 20.0, 0.2, 5.0),
        (BLESSING, 9000.0, 30.0, 0.0, 5.0),
        (DAMAGE, 4000.0, 15.0, 1.2, 5.0),
    ),
    R.MAGE: ((DAMAGE, 2100.0, 20.0, 1.6, 9.0), (DAMAGE, 6000.0, 40.0, 2.8, 9.0)),
    R.TANK: (),
    R.RANGED: ((DAMAGE, 3000.0, 15.0, 1.7, 9.0),),
}
BLESSING_STEPS = 6
BLESSING_BONUS = 0.25
#: Mode flags by archetype: P(aggressive), P(assist), P(no random walk).
MODE_TABLE: F64 = np.array(
    [
        [1.0, 0.3, 0.0],
        [0.3, 0.8, 0.3],
        [0.0, 1.0, 0.6],
        [0.6, 0.3, 0.2],
        [0.0, 0.5, 0.8],
        [0.8, 0.3, 0.2],
    ]
)
P_LOOTER, P_ANGRY, P_IMMOBILE, P_MASTER_PACK, P_BOSS_MASTER = 0.2, 0.3, 0.05, 0.4, 0.5
#: A boss master has this much more hp and attack.
BOSS_SCALE = 2.0

# Players: level range and hp / attack before scaling to the pack (knight, hunter, priest, wizard).
PLAYER_HP: F64 = np.array([12000.0, 7000.0, 7500.0, 6000.0])
PLAYER_ATK: F64 = np.array([900.0, 800.0, 300.0, 900.0])
PLAYER_ARMOR: F64 = np.array([0.5, 0.1, 0.1, 0.0])
PLAYER_RANGE: F64 = np.array([1.0, 7.0, 7.0, 7.0])
#: Party strength relative to the pack by party size (Lanchester: see `new_players`). Balanced
#: once (docs/contract_combat.md, "Balance") so that fights are won and lost by either side.
DIFFICULTY: F64 = np.array([0.25, 0.15, 0.15, 0.15])
#: The priest heals this share of the pack's summed mean attack per step.
PRIEST_HEAL = 0.5


@dataclass
class Monsters:
    """(E, N) arrays; positions (E, N, 2) integer-valued floats; skills (E, N, MAX_SKILLS)."""

    present: B
    alive: B
    arch: I64
    level: F64
    hp: F64
    max_hp: F64
    sp: F64
    max_sp: F64
    atk1: F64
    atk2: F64
    armor: F64
    attack_range: F64
    view_range: F64
    chase_range: F64
    walk_speed: F64
    can_move: B
    pos: F64
    spawn: F64
    skill_kind: I64
    skill_delay: F64  # ms
    skill_cd: F64  # ms left before it is ready again
    skill_sp: F64
    skill_power: F64
    skill_range: F64
    status: I64  # (E, N, N_STATUSES) steps left
    blessed: I64  # steps left
    ai_state: I64
    aggressive: B  # mode flags
    assist: B
    looter: B
    no_random_walk: B
    boss: B
    angry: B
    master: I64  # slot of its master, -1 none
    target: I64  # player slot, -1 none
    last_attacker: I64  # player slot, -1 none
    started_fight: B  # acquired its target before any player hit it (aggressive state)
    provoked: B  # a player hit it
    attacking: B  # what it did last step (momentum)
    walking: B
    casting: B
    time_alive_ms: F64
    since_player_ms: F64

    @classmethod
    def empty(cls, E: int) -> Monsters:
        N, K = MAX_PACK, MAX_SKILLS
        kw: dict[str, NDArray[np.generic]] = {}
        for f in fields(cls):
            kw[f.name] = np.zeros((E, N), _DTYPES.get(f.name, np.float64))
        for name in ("pos", "spawn"):
            kw[name] = np.zeros((E, N, 2))
        for name in ("skill_delay", "skill_cd", "skill_sp", "skill_power", "skill_range"):
            kw[name] = np.zeros((E, N, K))
        kw["skill_kind"] = np.full((E, N, K), NO_SKILL, np.int64)
        kw["status"] = np.zeros((E, N, N_STATUSES), np.int64)
        kw["master"] = np.full((E, N), -1, np.int64)
        kw["target"] = np.full((E, N), -1, np.int64)
        kw["last_attacker"] = np.full((E, N), -1, np.int64)
        return cls(**kw)  # type: ignore[arg-type]

    def assign(self, ids: I64, other: Monsters) -> None:
        for f in fields(self):
            getattr(self, f.name)[ids] = getattr(other, f.name)

    def as_units(self) -> Units:
        """The pack simulator's view of these monsters (what the adventurers' scripts read)."""
        return Units(
            present=self.present,
            alive=self.alive,
            cls=self.arch,
            pos=self.pos,
            hp=self.hp,
            max_hp=self.max_hp,
            atk=0.5 * (self.atk1 + self.atk2),
            range=self.attack_range,
            speed=np.ones_like(self.hp),
            armor=self.armor,
            heal=np.zeros_like(self.hp),
        )


_BOOLS = [
    "present",
    "alive",
    "can_move",
    "aggressive",
    "assist",
    "looter",
    "no_random_walk",
    "boss",
    "angry",
    "started_fight",
    "provoked",
    "attacking",
    "walking",
    "casting",
]
_INTS = ("arch", "ai_state", "blessed", "master", "target", "last_attacker")
_DTYPES: dict[str, type[np.generic]] = {
    **{n: np.bool_ for n in _BOOLS},
    **{n: np.int64 for n in _INTS},
}


@dataclass
class Players:
    """The party: the pack simulator's adventurer units plus what the threat dims read."""

    units: Units
    level: F64  # (E, M)
    target: I64  # (E, M) monster slot, -1 none

    @classmethod
    def empty(cls, E: int) -> Players:
        return cls(
            Units.empty(E, MAX_PLAYERS),
            np.zeros((E, MAX_PLAYERS)),
            np.full((E, MAX_PLAYERS), -1, np.int64),
        )

    def assign(self, ids: I64, other: Players) -> None:
        for f in fields(self.units):
            getattr(self.units, f.name)[ids] = getattr(other.units, f.name)
        self.level[ids] = other.level
        self.target[ids] = other.target


def cells_per_step(walk_speed: F64) -> I64:
    """Cells a monster walks in one step: STEP_MS / walk speed, at least 1, at most 3."""
    out: I64 = np.clip(np.floor(STEP_MS / walk_speed), 1, 3).astype(np.int64)
    return out


def new_monsters(
    rng: np.random.Generator, k: int, pack_size: tuple[int, int], centre: F64
) -> Monsters:
    """k packs of pack_size[0]..[1] monsters around `centre` (their spawn centre)."""
    N = MAX_PACK
    m = Monsters.empty(k)
    sizes = rng.integers(pack_size[0], pack_size[1] + 1, k)
    arch = rng.integers(0, R.N_ARCHETYPES, (k, N))
    # At most one support per pack (two healers make endless stalemates, as in the pack simulator).
    extra = (arch == R.SUPPORT) & ((arch == R.SUPPORT).cumsum(1) > 1)
    redraw = rng.integers(0, R.N_ARCHETYPES - 1, (k, N))
    arch = np.where(extra, redraw + (redraw >= R.SUPPORT), arch)
    present = np.arange(N)[None, :] < sizes[:, None]
    level = rng.integers(30, 100, (k, N)).astype(np.float64)
    scale = level / 70.0
    t = MONSTER_TABLE[arch]
    # Some packs of three or more are a master (slot 0) with its slaves.
    has_master = (sizes >= 3) & (rng.random(k) < P_MASTER_PACK)
    boss = (np.arange(N)[None, :] == 0) & (has_master & (rng.random(k) < P_BOSS_MASTER))[:, None]
    power = scale * np.where(boss, BOSS_SCALE, 1.0)
    m.present, m.alive, m.arch, m.level = present, present.copy(), arch, level
    m.max_hp = np.where(present, t[..., HP] * power, 0.0)
    m.hp = m.max_hp.copy()
    m.max_sp = t[..., SP]
    m.sp = m.max_sp * rng.uniform(0.5, 1.0, (k, N))
    m.atk1, m.atk2 = t[..., ATK1] * power, t[..., ATK2] * power
    m.armor, m.attack_range = t[..., DEF], t[..., RANGE]
    m.view_range, m.chase_range, m.walk_speed = t[..., VIEW], t[..., CHASE], t[..., WALK]
    m.can_move = rng.random((k, N)) >= P_IMMOBILE
    modes = rng.random((k, N, 3)) < MODE_TABLE[arch]
    m.aggressive, m.assist, m.no_random_walk = modes[..., 0], modes[..., 1], modes[..., 2]
    m.looter = rng.random((k, N)) < P_LOOTER
    m.angry = rng.random((k, N)) < P_ANGRY
    m.boss = boss
    m.master = np.where(has_master[:, None] & (np.arange(N) > 0)[None, :] & present, 0, -1)
    for a, skills in SKILL_TABLE.items():
        for s, (kind, delay, sp, pw, rng_) in enumerate(skills):
            rows = arch == a
            m.skill_kind[..., s][rows] = kind
            m.skill_delay[..., s][rows] = delay
            m.skill_sp[..., s][rows] = sp
            m.skill_power[..., s][rows] = pw
            m.skill_range[..., s][rows] = rng_
    # Some skills are still cooling down from before the party came.
    m.skill_cd = np.where(rng.random((k, N, MAX_SKILLS)) < 0.3, m.skill_delay * 0.5, 0.0)
    m.skill_cd = np.where(m.skill_kind >= 0, m.skill_cd, 0.0)
    offset = rng.integers(-2, 3, (k, N, 2)).astype(np.float64)
    # Inside the pack's clear zone (radius 3), so on walkable cells of the map.
    m.pos = centre[:, None, :] + offset
    m.spawn = np.broadcast_to(centre[:, None, :], (k, N, 2)).copy()
    m.ai_state = np.full((k, N), IDLE_S, np.int64)
    m.time_alive_ms = rng.uniform(0.0, 400_000.0, (k, N))
    m.since_player_ms = rng.uniform(0.0, 60_000.0, (k, N))
    return m


def new_players(
    rng: np.random.Generator,
    k: int,
    n_players: tuple[int, int],
    centre: F64,
    mon: Monsters,
    classes: tuple[int, ...] = (),
) -> Players:
    """k parties (the pack simulator's compositions) around `centre`, scaled to the pack.
    `classes`: classes every party must hold (a scenario's, scenarios.py); the j-th one replaces
    the party's j-th member from the end where the party lacks it. It draws nothing, so the
    default leaves the draws of a seed as they were.

    Lanchester's square law: a side's strength is its total hp times its total damage per step, so
    the party's hp and attack both take sqrt(difficulty x pack power / party power)."""
    M = MAX_PLAYERS
    p = Players.empty(k)
    n = rng.integers(n_players[0], n_players[1] + 1, k)
    pick = rng.random(k)
    cls = np.zeros((k, M), np.int64)
    for size, parties in R.PARTIES.items():
        rows = np.nonzero(n == size)[0]
        choice = np.minimum((pick[rows] * len(parties)).astype(np.int64), len(parties) - 1)
        table = np.array([list(q) + [0] * (M - len(q)) for q in parties], np.int64)
        cls[rows] = table[choice]
    present = np.arange(M)[None, :] < n[:, None]
    for j, c in enumerate(classes):
        lacks = np.nonzero(~((cls == c) & present).any(1))[0]
        cls[lacks, np.maximum(n[lacks] - 1 - j, 0)] = c
    mon_atk = (0.5 * (mon.atk1 + mon.atk2)).sum(1, where=mon.present)
    mon_power = mon.max_hp.sum(1, where=mon.present) * mon_atk
    hp, atk = PLAYER_HP[cls], PLAYER_ATK[cls]
    power = hp.sum(1, where=present) * atk.sum(1, where=present)
    scale = np.sqrt(DIFFICULTY[n - 1] * mon_power / power)[:, None]
    u = p.units
    u.present, u.alive, u.cls = present, present.copy(), cls
    u.max_hp = np.where(present, hp * scale, 0.0)
    u.hp = u.max_hp.copy()
    u.atk = atk * scale
    u.range = PLAYER_RANGE[cls]
    u.speed = np.ones((k, M))
    u.armor = PLAYER_ARMOR[cls]
    u.heal = np.where(cls == R.PRIEST, PRIEST_HEAL * mon_atk[:, None], 0.0)
    offset = rng.integers(-2, 3, (k, M, 2)).astype(np.float64)
    # Inside the party's clear zone (radius 3), so on walkable cells of the map.
    u.pos = centre[:, None, :] + offset
    p.level = rng.integers(50, 100, (k, M)).astype(np.float64)
    return p
