"""Where a monster moves: the contract simulator with the movement of one archetype's monsters
decided by a model (movement_ppo: one of the 9 DIRECTIONS; sac: a vector (dx, dy) in [-1, 1]^2),
while what they do otherwise (attack, skills, targets) stays the traditional AI's.

How a step runs (a wrapper around `ContractCombatEnv`, which stays untouched): every monster's
traditional action is computed (traditional.py). A controlled monster (alive, of the archetype)
that moves executes IDLE in the simulator and walks its move afterwards (walking and striking are
exclusive in a step, as on the game server); one that stays executes the traditional action with
its walking cancelled, so in range it attacks or casts as the traditional AI would and out of range
it holds its cell. The simulator resolves damage on the positions at the step's start and moves
everyone at its end, so setting a controlled monster's position after `step` is the same as
walking it inside the step. The other monsters act as the traditional AI alone.

The frame of a move: the 64 contract floats carry distances but no bearing, so an absolute
"north" could not be learned from them. A move is read in the monster's own frame: "N" (0, 1) is
straight toward its reference enemy (its target, else the nearest player in view), "E" (1, 0) is
to its right, "S" straight away; with no enemy in view the frame is the map's own (N = +y). A
game server turns the answer into a cell the same way (`world_offset`). The move's length is the
monster's walk step (1-3 cells per 300 ms step, units.cells_per_step): a vector (dx, dy) walks
round(step x rotated vector) cells per axis; a rounded (0, 0) stays.

Observation: each controlled monster's 64 floats, computed by the simulator's own encoder
(encode.encode) on the world after the move. Reward: the zoo's archetype reward of the DQN tasks
(dqn_reward.py: config/zoo.py's weights on damage dealt and taken, kills, deaths, healing, buffs,
aggro, survival, the distance band of mage 5-10 and ranged 7-12 cells, kiting; mixed with the
pack's by team_weight), measured on the positions the moves produced, plus REACH_BONUS per step
within attack range of its target for the melee archetypes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from torch import nn

from config.zoo import archetype_training
from models.envs.contract_combat.encode import encode
from models.envs.contract_combat.env import VICTORY, ContractCombatEnv
from models.envs.contract_combat.execute import IDLE, execute, monster_steps, walk
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.contract_combat.units import MAX_PLAYERS, STUN
from models.envs.pack_combat.combat import chebyshev
from models.zoo.base import (
    Checkpoints,
    Evaluation,
    Progress,
    Trained,
    ZooSettings,
    entropy_bits,
    explained_variance,
)
from models.zoo.tasks.dqn_reward import G_PLAYERS, G_POS, G_TARGET_D, Before, measure, weighted
from models.zoo.trainers.common import Limits, TrainResult
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import DIRECTIONS

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

N_MOVES = len(DIRECTIONS)
STAY = DIRECTIONS.index("stay")
#: Each direction as (right, forward) in the monster's frame, in DIRECTIONS' order.
DIRECTION_VECTORS: F64 = np.array(
    [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 0)], np.float64
)
#: Per step within attack range of its target, for the melee archetypes (no distance
#: band in config/zoo.py): "reach attack range" as a shaping bonus of the task, not the seed's.
REACH_BONUS = 2.0
MELEE = ("aggressive", "defensive", "tank")
#: The simulator's global state (env._global_state): 8 features per player, and the one-hot of
#: each monster's target among the fight's features.
_PLAYER_WIDTH = 8
_G_TARGET = slice(48 + 5, 48 + 9)
#: Fights are drawn with this many steps at most (the simulator's default).
MAX_STEPS = 100
#: The tasks' warm start: demonstrations of the traditional AI's walking by profile, and the
#: share of the training budget spent imitating them (at most WARM_START_MAX_S seconds).
WARM_START_DEMOS = {"tiny": 1000, "small": 6000, "full": 200_000}
WARM_START_SHARE, WARM_START_MAX_S = 0.15, 120.0
#: The tasks' parallel fights while training, and their evaluation fights (half or so hold a
#: monster of the archetype; the others are not counted), by profile.
TRAIN_ENVS = {"tiny": 32, "small": 64, "full": 256}
EVAL_FIGHTS = {"tiny": 64, "small": 128, "full": 2000}


def warm_start_seconds(budget_s: float) -> float:
    return min(WARM_START_SHARE * budget_s, WARM_START_MAX_S)


def direction_of(vectors: F64) -> I64:
    """The DIRECTIONS index of (..., 2) local vectors, binned by the cell a one-cell walker would
    take (each axis rounded): the continuous answers' 9 bins."""
    sign = np.clip(np.round(vectors), -1, 1).astype(np.int64)
    table = {(int(x), int(y)): k for k, (x, y) in enumerate(DIRECTION_VECTORS)}
    lookup = np.zeros((3, 3), np.int64)
    for (x, y), k in table.items():
        lookup[x + 1, y + 1] = k
    out: I64 = lookup[sign[..., 0] + 1, sign[..., 1] + 1]
    return out


def to_local(offset: F64, forward: F64, steps: I64) -> F64:
    """The local vector (right, forward) of map offsets (..., 2), per cell of the walk step: the
    inverse of world_offset up to rounding."""
    right = np.stack([forward[..., 1], -forward[..., 0]], -1)
    local = np.stack([(offset * right).sum(-1), (offset * forward).sum(-1)], -1)
    out: F64 = np.clip(local / np.maximum(steps, 1)[..., None], -1.0, 1.0)
    return out


def nearest_direction(local: F64) -> I64:
    """The DIRECTIONS index whose direction is nearest the local vectors' (..., 2) angle; STAY
    for a zero vector (what the monster did, as one of the 9 moves)."""
    angle = np.arctan2(local[..., 0], local[..., 1])  # 0: forward (N), pi / 2: right (E)
    sector = np.round(angle / (np.pi / 4)).astype(np.int64) % 8
    out: I64 = np.where((np.abs(local) < 1e-9).all(-1), STAY, sector)
    return out


def world_offset(local: F64, forward: F64, steps: I64) -> F64:
    """Cells walked (..., 2) for local vectors (right, forward) in [-1, 1]^2, a unit `forward`
    direction (..., 2) in map coordinates, and each monster's walk step."""
    right = np.stack([forward[..., 1], -forward[..., 0]], -1)
    world = local[..., :1] * right + local[..., 1:] * forward
    s = steps[..., None].astype(np.float64)
    out: F64 = np.clip(np.round(world * s), -s, s)
    return out


@dataclass
class MoveStep:
    """One step's consequences for the controlled monsters (arrays (E, N) unless said)."""

    obs: F32  # (E, N, 64) the next states (zeros where not controlled next)
    controlled: B  # who decides at the next step
    reward: F64  # the archetype's reward of those who decided this step
    ended: B  # their episode ended: died, or the fight ended
    fight_done: B  # (E,)
    won: B  # (E,) the fight ended in the monsters' victory
    walked: F64  # (E, N, 2) the cells each one walked, in its frame, per cell of its walk step


class MovementEnv:
    """E contract fights; the monsters of `archetype` move as `step` says."""

    def __init__(
        self,
        archetype: str,
        n_envs: int,
        seed: int = 0,
        max_steps: int = MAX_STEPS,
        scenario: str = "standard",
    ) -> None:
        if archetype not in ARCHETYPES:
            raise ValueError(f"unknown archetype {archetype!r} (known: {', '.join(ARCHETYPES)})")
        self.archetype = archetype
        self.arch_id = ARCHETYPES.index(archetype)
        self.env = ContractCombatEnv(n_envs, seed=seed, max_steps=max_steps, scenario=scenario)
        self.n_envs = n_envs
        # The traditional AI's wandering draws: one stream per seed, shared by every policy.
        self._rng = np.random.default_rng([seed, 1])
        self._obs = self._encode()

    # --- observing ---------------------------------------------------------------------------
    def controlled(self) -> B:
        m = self.env.monsters
        out: B = m.alive & (m.arch == self.arch_id)
        return out

    def _encode(self) -> F32:
        m, p, w = self.env.monsters, self.env.players, self.env.world
        obs = encode(m, p, w)
        obs[~self.controlled()] = 0.0
        return obs

    def observe(self) -> tuple[F32, B]:
        """The controlled monsters' 64 floats (E, N, 64) and who they are (E, N)."""
        return self._obs, self.controlled()

    def refresh(self) -> None:
        """Re-encode the states after the world was edited by hand (`duel`, tests)."""
        self._obs = self._encode()

    def reference(self) -> I64:
        """(E, N) the player each monster's frame points at: its target while alive, else the
        nearest living player in view, else -1."""
        m, u = self.env.monsters, self.env.players.units
        d = chebyshev(m.pos, u.pos)
        in_view = u.alive[:, None, :] & (d <= m.view_range[..., None])
        nearest = np.where(in_view.any(2), np.where(in_view, d, np.inf).argmin(2), -1)
        target_alive = np.take_along_axis(u.alive, np.maximum(m.target, 0), 1) & (m.target >= 0)
        out: I64 = np.where(target_alive, m.target, nearest)
        return out

    def forward(self, reference: I64) -> F64:
        """(E, N, 2) unit direction toward each monster's reference (map +y where none)."""
        m, u = self.env.monsters, self.env.players.units
        ref_pos = np.take_along_axis(u.pos, np.maximum(reference, 0)[..., None].repeat(2, -1), 1)
        delta = ref_pos - m.pos
        length = np.linalg.norm(delta, axis=-1, keepdims=True)
        has = (reference >= 0)[..., None] & (length > 0)
        out: F64 = np.where(has, delta / np.maximum(length, 1e-9), np.array([0.0, 1.0]))
        return out

    # --- stepping ----------------------------------------------------------------------------
    def step(self, local: F64 | None) -> MoveStep:
        """`local` (E, N, 2): each controlled monster's move (right, forward) in [-1, 1]^2
        (DIRECTION_VECTORS[k] for a direction k); None: the traditional AI moves everyone."""
        env = self.env
        m, p, w = env.monsters, env.players, env.world
        E, N = m.alive.shape
        ctrl = self.controlled()
        steer = ctrl if local is not None else np.zeros((E, N), bool)
        forward = self.forward(self.reference())
        trad = traditional_actions(m, p, m.alive, self._rng.random((E, N)))
        walker = m.can_move & (m.status[..., STUN] == 0)
        moves = np.zeros((E, N, 2)) if local is None else np.clip(local, -1.0, 1.0)
        walk_cells = monster_steps(m)
        offset = world_offset(moves, forward, walk_cells)
        offset = np.where((steer & walker)[..., None], offset, 0.0)
        moving = steer & (offset != 0).any(-1)
        prim = np.where(moving, IDLE, trad)
        # What every monster does this step, from the state at its start (execute is pure; the
        # walking goals it draws are not used).
        orders = execute(m, p, prim, m.alive.copy(), np.zeros((E, N, 2)), w.size)
        before = Before.of(m, p, orders)
        goal = np.clip(before.pos + offset, 0, w.size - 1)
        steps = np.where(moving, walk_cells, 0)
        new_pos = walk(before.pos, goal, steps, np.zeros((E, N)), w.walkable)
        # Read before the step: it redraws the monsters of the fights that finish.
        attack_range = m.attack_range.copy()

        _, result = env.step(prim)
        span = float(w.size - 1)
        env_pos = np.round(result.terminal_global_state[..., G_POS].astype(np.float64) * span)
        walked = np.where(steer[..., None], new_pos, env_pos) - before.pos
        done = result.done
        # Fights that go on: the steered monsters stand where their own move took them.
        keep = steer & ~done[:, None]
        m.pos = np.where(keep[..., None], new_pos, m.pos)
        m.walking = np.where(keep, moving, m.walking)
        result = replace(
            result,
            terminal_global_state=_with_positions(
                result.terminal_global_state, steer, new_pos, w.size
            ),
        )
        terms = measure(before, orders, result, w.size)
        reward = weighted(terms, self.archetype, before.present)
        if self.archetype in MELEE:
            reward = reward + REACH_BONUS * (terms["target_distance"] <= attack_range)
        won = np.zeros(E, bool)
        won[result.episodes.env_index] = result.episodes.extra["outcome"] == VICTORY
        self._obs = self._encode()
        return MoveStep(
            obs=self._obs,
            controlled=self.controlled(),
            reward=np.where(ctrl, reward, 0.0),
            ended=ctrl & (done[:, None] | (terms["deaths"] > 0)),
            fight_done=done.copy(),
            won=won,
            walked=np.where(ctrl[..., None], to_local(walked, forward, walk_cells), 0.0),
        )


def _with_positions(g: F32, steer: B, pos: F64, map_size: int) -> F32:
    """The global state after a step with the steered monsters at `pos`: their position and the
    distance to their target (what the reward measures read) recomputed."""
    span = float(map_size - 1)
    out = g.copy()
    E, N = steer.shape
    players = g[..., G_PLAYERS].reshape(E, N, MAX_PLAYERS, _PLAYER_WIDTH)[:, 0]
    p_pos = np.round(players[..., 1:3].astype(np.float64) * span)
    onehot = g[..., _G_TARGET] > 0.5
    target = np.where(onehot.any(-1), onehot.argmax(-1), -1)
    t_pos = np.take_along_axis(p_pos, np.maximum(target, 0)[..., None].repeat(2, -1), 1)
    cells = np.max(np.abs(pos - t_pos), -1)
    t_d = np.where(target >= 0, np.minimum(cells / span, 1.0), 1.0)
    out[..., G_POS] = np.where(steer[..., None], pos / span, g[..., G_POS])
    out[..., G_TARGET_D] = np.where(steer, t_d, g[..., G_TARGET_D])
    return out


#: Decides for (K, 64) states: local moves (K, 2), their DIRECTIONS bins (K,), values (K,) or None.
Decide = Callable[[F32], tuple[F64, I64, F64 | None]]


@dataclass
class Played:
    """The first fight of each of E environments, played to its end."""

    relevant: B  # (E,) the fight has a monster of the archetype at its start
    won: B  # (E,)
    returns: F64  # (K,) each controlled monster's summed reward over its episode
    answers: I64  # (S,) the DIRECTIONS bin of every decision
    values: F64  # (S,) the value the decider gave each decision's state (nan: none)
    discounted: F64  # (S,) the discounted return that followed it


def play(
    archetype: str, decide: Decide | None, n_fights: int, seed: int, gamma: float = 0.99
) -> Played:
    """Play `n_fights` fights (seeded: the same fights for every decider); None: the traditional
    AI moves the archetype's monsters too (the baseline)."""
    env = MovementEnv(archetype, n_fights, seed=seed)
    obs, ctrl = env.observe()
    relevant: B = np.asarray(ctrl.any(1), dtype=bool)
    active = np.ones(n_fights, bool)
    won = np.zeros(n_fights, bool)
    running = np.zeros(ctrl.shape)
    returns: list[float] = []
    trace: list[tuple[B, I64, F64, F64, B]] = []
    while active.any():
        rows = ctrl & active[:, None]
        local = np.zeros((*ctrl.shape, 2))
        answers = np.full(ctrl.shape, STAY)
        values = np.full(ctrl.shape, np.nan)
        if decide is not None and ctrl.any():
            moves, bins, v = decide(obs[ctrl])
            local[ctrl], answers[ctrl] = moves, bins
            if v is not None:
                values[ctrl] = v
        step = env.step(None if decide is None else local)
        reward = np.where(rows, step.reward, 0.0)
        trace.append((rows, answers, values, reward, step.ended))
        running += reward
        returns += list(running[step.ended & rows])
        running[step.ended] = 0.0
        won |= step.won & active
        active &= ~step.fight_done
        obs, ctrl = step.obs, step.controlled
    following = np.zeros(ctrl.shape)
    discounted = []
    for rows, _, _, reward, ended in reversed(trace):
        following = reward + gamma * np.where(ended, 0.0, following)
        discounted.append(following[rows])
    discounted.reverse()
    return Played(
        relevant=relevant,
        won=won,
        returns=np.asarray(returns),
        answers=np.concatenate([a[r] for r, a, _, _, _ in trace]),
        values=np.concatenate([v[r] for r, _, v, _, _ in trace]),
        discounted=np.concatenate(discounted),
    )


def example_states(archetype: str, n: int, seed: int) -> F32:
    """(n, 64) states of the archetype's monsters in fights the traditional AI plays (what a
    game server sends for them)."""
    env = MovementEnv(archetype, 64, seed=seed)
    rows: list[F32] = []
    count = 0
    while count < n:
        obs, ctrl = env.observe()
        rows.append(obs[ctrl])
        count += int(ctrl.sum())
        env.step(None)
    out: F32 = np.concatenate(rows)[:n]
    return out


def evaluation(archetype: str, model: Played, baseline: Played, with_value: bool) -> Evaluation:
    """The Evaluation of a movement model's fights against the traditional AI's on the same
    fights; only fights holding a monster of the archetype count."""
    relevant = model.relevant
    scale = archetype_training(archetype).reward_scale
    return Evaluation(
        episodes=int(relevant.sum()),
        win_rate=float(model.won[relevant].mean()),
        baseline_win_rate=float(baseline.won[relevant].mean()),
        avg_episode_reward=float(model.returns.mean() * scale) if len(model.returns) else 0.0,
        reward_scale=(
            f"the {archetype} reward of config/zoo.py per monster of the archetype per fight "
            f"(x{scale:g}); 1 unit = 1% of the party's max hp dealt at weight 1"
        ),
        action_entropy_bits=entropy_bits(model.answers, N_MOVES),
        action_count=N_MOVES,
        explained_variance=(
            explained_variance(model.values, model.discounted) if with_value else None
        ),
    )


def traditional_moves(archetype: str, n: int, seed: int, n_envs: int = 64) -> tuple[F32, F64]:
    """(n, 64) states of the archetype's monsters under the traditional AI and the move each
    then made, as a local vector (n, 2) (`nearest_direction` bins it): a warm start that
    imitates the traditional AI's walking."""
    env = MovementEnv(archetype, n_envs, seed=seed)
    states: list[F32] = []
    moves: list[F64] = []
    count = 0
    while count < n:
        obs, ctrl = env.observe()
        step = env.step(None)
        states.append(obs[ctrl])
        moves.append(step.walked[ctrl])
        count += int(ctrl.sum())
    return np.concatenate(states)[:n], np.concatenate(moves)[:n]


def warm_start_demos(archetype: str, profile: str, seed: int) -> tuple[F32, I64]:
    """The tasks' warm start: WARM_START_DEMOS[profile] states of the traditional AI's walking
    (fights seeded `seed` + 1) and the DIRECTIONS bin of the move made in each."""
    states, walked = traditional_moves(archetype, WARM_START_DEMOS[profile], seed + 1, 256)
    return states, nearest_direction(walked)


class MovementTask:
    """What movement_ppo and sac share as zoo tasks: they learn by acting in MovementEnv (no
    collected data), are evaluated on EVAL_FIGHTS held-out fights (seeds from `eval_seed`, one
    per archetype) against the traditional AI moving on the same fights, and take as example
    inputs the states a game server sends; their training loops (trainers/ppo.py, sac.py) run
    under the same limits and report the same way. Subclasses set `model_type`, `eval_seed`,
    `with_value` (whether the model answers a value, for the explained variance) and `decider`."""

    model_type = ""
    eval_seed = 0
    with_value = False

    def decider(self, module: nn.Module) -> Decide:
        """The serving answer of a trained module, as `play` asks it."""
        raise NotImplementedError

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        return {}

    def limits(
        self, archetype: str, settings: ZooSettings, start: float, checkpoints: Checkpoints
    ) -> Limits:
        """The training loop's limits: the budget left since `start` (time.monotonic), `epochs`
        updates at most."""
        return Limits(
            budget_s=settings.budget_s - (time.monotonic() - start),
            max_updates=settings.epochs,
            checkpoints=checkpoints,
            progress=Progress(f"{self.model_type} {archetype}", settings.progress),
        )

    def trained(
        self, module: nn.Module, result: TrainResult, start: float, **notes: Any
    ) -> Trained:
        """The trained module (now in eval mode) with its loop's history, samples and updates;
        `notes` follow the updates."""
        module.eval()
        return Trained(
            module=module,
            history=result.history,
            samples=result.samples,
            seconds=time.monotonic() - start,
            notes={"updates": result.updates, **notes},
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        fights = settings.pick(settings.num_episodes, EVAL_FIGHTS)
        seed = self.eval_seed + ARCHETYPES.index(archetype)
        model = play(archetype, self.decider(module), fights, seed)
        baseline = play(archetype, None, fights, seed)
        return evaluation(archetype, model, baseline, with_value=self.with_value)

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        return example_states(archetype, n, seed)


def duel(
    archetype: str, monster: tuple[int, int], player: tuple[int, int], walk_cells: int = 1
) -> MovementEnv:
    """A hand-built fight: one monster of the archetype (slot 0, walking `walk_cells` cells a
    step, targeting the player) against one knight that does not hit back (5000 hp, attack 0),
    on an open map without hazards."""
    from models.envs.contract_combat.units import MONSTER_TABLE, RANGE
    from models.envs.contract_combat.world import STEP_MS
    from models.envs.pack_combat import rules as R

    env = MovementEnv(archetype, 1, seed=0)
    w, m, u = env.env.world, env.env.monsters, env.env.players.units
    w.cell[:] = 0
    w.refresh_cells()
    w.hazard_ttl[:] = 0
    slot0 = np.arange(m.alive.shape[1]) == 0
    a = ARCHETYPES.index(archetype)
    m.present[0], m.alive[0] = slot0, slot0
    m.arch[0, 0], m.master[0], m.target[0] = a, -1, 0
    m.pos[0, 0] = monster
    m.attack_range[0, 0] = MONSTER_TABLE[a, RANGE]
    m.walk_speed[0, 0] = STEP_MS / walk_cells  # units.cells_per_step: STEP_MS / walk speed
    m.can_move[0, 0] = True
    m.status[0] = 0
    m.hp[0, 0] = m.max_hp[0, 0]
    players = np.arange(u.alive.shape[1]) == 0
    u.present[0], u.alive[0] = players, players
    u.cls[0, 0] = R.KNIGHT
    u.pos[0, 0] = player
    u.max_hp[0, 0] = u.hp[0, 0] = 5000.0
    u.atk[0, 0] = 0.0
    env.env.players.target[0] = -1
    env.refresh()
    return env
