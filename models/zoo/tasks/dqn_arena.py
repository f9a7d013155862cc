"""Contract fights where a DQN decides for one archetype's monsters and the traditional AI for every
other monster: what combat_dqn and skill_dqn train in and are evaluated on.

A task plugs in as a `Chooser`: the extra input columns it reads beside the 64 floats, how its
choices become the ten primitives, which choice the traditional AI made (its demonstrations),
and which choices are valid per row. Each step the arena draws the traditional AI's actions for
everyone (one uniform draw per monster slot, in fixed shapes, so a seed fixes the fights), lets
the chooser override its archetype's living monsters, executes, and measures each monster's
reward under the archetype's weights (dqn_reward.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from models.envs.base import Observation, StepResult
from models.envs.contract_combat.env import VICTORY, ContractCombatEnv
from models.envs.contract_combat.execute import execute
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.pack_combat.rules import ARCHETYPES
from models.zoo.base import Progress, ZooSettings
from models.zoo.tasks.dqn_reward import Before, measure, weighted
from models.zoo.trainers.dqn import DoubleDQN, PrioritizedReplay

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Held-out fights are drawn from seeds at and above this one (training uses settings.seed).
EVAL_SEED = 1_000_000
MAX_STEPS = 100
#: (inputs (K, D), valid (K, C), epsilon, rng) -> (K,) choices: a learner's or a module's.
Act = Callable[
    [NDArray[np.float32], NDArray[np.bool_], float, np.random.Generator], NDArray[np.int64]
]


class Chooser(Protocol):
    n_choices: int

    def extra(self, arena: Arena) -> F32:
        """(E, N, k) columns appended to each monster's 64 floats at the step's start."""
        ...

    def primitives(self, arena: Arena, choices: I64, traditional: I64) -> I64:
        """(E, N) primitives the monsters execute for (E, N) choices."""
        ...

    def demonstrated(self, arena: Arena, traditional: I64) -> I64:
        """(E, N) the choice that reproduces the traditional AI's action."""
        ...

    def valid(self, inputs: F32) -> B:
        """(K, n_choices) the choices each row of inputs allows."""
        ...


@dataclass
class Step:
    inputs: F32  # (E, N, D) at the step's start
    next_inputs: F32  # (E, N, D) after it (a timed-out fight's last state; zeros for the dead)
    controlled: B  # (E, N) the chooser decided for it
    reward: F64  # (E, N) the archetype's weighted reward
    terminal: B  # (E, N) died, or its fight was won or lost
    done: B  # (E,) the fight ended (a new one started in its place)
    victory: B  # (E,)


def measured_step(
    env: ContractCombatEnv, actions: I64
) -> tuple[Observation, StepResult, Before, dict[str, F64]]:
    """env.step(actions) (primitives), and the reward terms it produced for every monster."""
    m, p = env.monsters, env.players
    e, n = m.alive.shape
    wander = np.zeros((e, n, 2))  # the walking goals are not measured: no draw needed
    orders = execute(m, p, actions, m.alive.copy(), wander, env.world.size)
    before = Before.of(m, p, orders)
    obs, result = env.step(actions)
    return obs, result, before, measure(before, orders, result, env.world.size)


class Arena:
    def __init__(self, archetype: str, n_envs: int, seed: int, chooser: Chooser) -> None:
        self.archetype = archetype
        self.arch = ARCHETYPES.index(archetype)
        self.chooser = chooser
        self.env = ContractCombatEnv(n_envs, seed=seed, max_steps=MAX_STEPS)
        self.obs = self.env.reset()
        self._roll = np.random.default_rng(seed + 7919)
        #: The last traditional_actions draw (a chooser computing another traditional decision
        #: for the same step reuses it).
        self.roll = np.zeros(self.shape)

    @property
    def shape(self) -> tuple[int, int]:
        e, n = self.obs.agent_mask.shape
        return e, n

    def controlled(self) -> B:
        out: B = self.obs.agent_mask & (self.env.monsters.arch == self.arch)
        return out

    def inputs(self) -> F32:
        return np.concatenate([self.obs.local_obs, self.chooser.extra(self)], axis=2)

    def traditional(self) -> I64:
        env = self.env
        self.roll = self._roll.random(self.shape)
        return traditional_actions(env.monsters, env.players, self.obs.agent_mask, self.roll)

    def step(self, inputs: F32, choices: I64, traditional: I64) -> Step:
        """Execute: the chooser's choices for the controlled monsters, the traditional AI's
        actions for the others."""
        env, ctrl = self.env, self.controlled()
        own = self.chooser.primitives(self, choices, traditional)
        actions = np.where(ctrl, own, traditional)
        extra = inputs[..., self.obs.local_obs.shape[2] :]
        self.obs, result, before, terms = measured_step(env, actions)
        reward = weighted(terms, self.archetype, before.present)
        local = self.obs.local_obs.copy()
        if env.timeout_obs is not None:
            local[result.truncated] = env.timeout_obs[0][result.truncated]
        died = before.alive & (result.terminal_global_state[..., 0] < 0.5)
        ended = (result.done & ~result.truncated)[:, None]
        victory = np.zeros(env.n_envs, bool)
        victory[result.episodes.env_index] = result.episodes.extra["outcome"] == VICTORY
        return Step(
            inputs=inputs,
            next_inputs=np.concatenate([local, extra], axis=2),
            controlled=ctrl,
            reward=reward,
            terminal=died | (ended & before.alive),
            done=result.done.copy(),
            victory=victory,
        )


@dataclass
class Decision:
    inputs: F32  # (E, N, D)
    choices: I64  # (E, N) what the controlled monsters do (elsewhere: the demonstrated choice)
    demonstrated: I64  # (E, N) the choice reproducing the traditional AI
    traditional: I64  # (E, N) the traditional AI's primitives


def decide(arena: Arena, act: Act | None, epsilon: float, rng: np.random.Generator) -> Decision:
    """This step's choices: `act`'s for the controlled monsters (the traditional AI's where act
    is None, a uniformly random valid choice with probability epsilon: the recordings)."""
    inputs = arena.inputs()
    trad = arena.traditional()
    shown = arena.chooser.demonstrated(arena, trad)
    choices = shown.copy()
    ctrl = arena.controlled()
    if ctrl.any():
        rows = inputs[ctrl]
        valid = arena.chooser.valid(rows)
        if act is not None:
            choices[ctrl] = act(rows, valid, epsilon, rng)
        elif epsilon > 0:
            explore = rng.random(len(rows)) < epsilon
            random = (rng.random(valid.shape) * valid).argmax(1)
            choices[ctrl] = np.where(explore, random, shown[ctrl])
    return Decision(inputs, choices, shown, trad)


def advance(arena: Arena, d: Decision) -> Step:
    return arena.step(d.inputs, d.choices, d.traditional)


def push(replay: PrioritizedReplay, step: Step, d: Decision, recording: bool) -> int:
    """The controlled monsters' transitions; in a recording the rows that followed the
    traditional AI are demonstrations."""
    c = step.controlled
    demo = (d.choices == d.demonstrated)[c] & recording
    replay.add(
        step.inputs[c],
        d.choices[c],
        step.reward[c].astype(np.float32),
        step.next_inputs[c],
        step.terminal[c],
        demo,
        keep=recording,
    )
    return int(c.sum())


@dataclass
class Plan:
    """How one DQN training spends its budget."""

    n_envs: int
    demo_samples: int
    """Transitions recorded before learning (at most 30% of the budget)."""
    record_epsilon: float
    """Share of the recorded choices drawn at random instead of the traditional AI's."""
    pretrain_share: float
    """Share of the budget left after recording spent learning from the recordings alone."""
    epsilon: float
    online_fights: int | None = None
    pretrain_epochs: int | None = None


def train_in_arena(
    learner: DoubleDQN,
    chooser: Chooser,
    archetype: str,
    settings: ZooSettings,
    plan: Plan,
    label: str,
    after_update: Callable[[int], None] = lambda step: None,
) -> tuple[dict[str, list[float]], int]:
    """Demonstrations from the traditional AI, a pretraining on them, then epsilon-greedy play
    with one update per step, within settings.budget_s; returns (history, transitions).
    `after_update(n)` runs after the n-th update (checkpoints)."""
    start = time.monotonic()
    budget = settings.budget_s
    rng = np.random.default_rng(settings.seed)
    arena = Arena(archetype, plan.n_envs, settings.seed, chooser)
    width = arena.inputs().shape[2]
    replay = PrioritizedReplay(learner.settings.capacity, width, learner.settings)
    progress = Progress(label, settings.progress)
    history: dict[str, list[float]] = {"loss": [], "win_rate": [], "reward": []}
    samples = 0
    while replay.n_kept < plan.demo_samples and time.monotonic() - start < 0.3 * budget:
        d = decide(arena, None, plan.record_epsilon, rng)
        samples += push(replay, advance(arena, d), d, recording=True)
    bs = learner.settings.batch_size
    pre_updates = (plan.pretrain_epochs or 10**9) * max(replay.size // bs, 1)
    pre_end = time.monotonic() + plan.pretrain_share * (budget - (time.monotonic() - start))
    beta0 = learner.settings.beta_start

    def beta() -> float:
        return min(1.0, beta0 + (1.0 - beta0) * (time.monotonic() - start) / budget)

    while replay.size and learner.updates < pre_updates and time.monotonic() < pre_end:
        history["loss"].append(learner.update(replay, beta(), rng))
        after_update(learner.updates)
        progress(time.monotonic() - start, budget, loss=history["loss"][-1])
    fights, wins, ret = 0, 0, 0.0
    while time.monotonic() - start < budget and (
        plan.online_fights is None or fights < plan.online_fights
    ):
        d = decide(arena, learner.act, plan.epsilon, rng)
        step = advance(arena, d)
        samples += push(replay, step, d, recording=False)
        ret += float(step.reward[step.controlled].sum())
        fights += int(step.done.sum())
        wins += int(step.victory.sum())
        if not replay.size:
            continue
        history["loss"].append(learner.update(replay, beta(), rng))
        after_update(learner.updates)
        progress(time.monotonic() - start, budget, loss=history["loss"][-1], fights=fights)
    if fights:
        history["win_rate"].append(wins / fights)
        history["reward"].append(ret / fights)
    return history, samples


@dataclass
class Played:
    fights: int
    wins: int
    episode_rewards: list[float]
    answers: list[int]


def play(
    archetype: str,
    chooser: Chooser,
    act: Act | None,
    n_fights: int,
    seed: int,
) -> Played:
    """The first fight of each of `n_fights` environments, `act` choosing with epsilon 0 (the
    traditional AI where act is None); only fights holding a monster of the archetype count
    (elsewhere the choices change nothing). Episode reward: per controlled monster, its rewards
    summed over the fight."""
    rng = np.random.default_rng(seed)
    arena = Arena(archetype, n_fights, seed, chooser)
    m = arena.env.monsters
    counted = (m.present & (m.arch == arena.arch)).any(1)
    running = np.ones(n_fights, bool)
    won = np.zeros(n_fights, bool)
    returns = np.zeros(arena.shape)
    seen = np.zeros(arena.shape, bool)
    answers: list[int] = []
    while running.any():
        d = decide(arena, act, 0.0, rng)
        live = arena.controlled() & running[:, None]
        answers.extend(d.choices[live].tolist())
        seen |= live
        step = advance(arena, d)
        returns += np.where(live, step.reward, 0.0)
        won |= running & step.victory
        running &= ~step.done
    return Played(
        fights=int(counted.sum()),
        wins=int((won & counted).sum()),
        episode_rewards=[float(r) for r in returns[seen]],
        answers=answers,
    )


def agreement(
    module: torch.nn.Module, archetype: str, chooser: Chooser, steps: int, seed: int
) -> tuple[float, float]:
    """How often the module's greedy choice is the traditional AI's, over the states of the
    archetype's monsters in fights the traditional AI plays, and the same for the constant answer
    that agrees most (its most frequent choice)."""
    arena = Arena(archetype, 32, seed, chooser)
    rng = np.random.default_rng(seed)
    greedy, shown = [], []
    for _ in range(steps):
        d = decide(arena, None, 0.0, rng)
        rows = d.inputs[arena.controlled()]
        with torch.no_grad():
            q = module(torch.as_tensor(rows)).numpy()
        greedy.append(np.where(chooser.valid(rows), q, -np.inf).argmax(1))
        shown.append(d.demonstrated[arena.controlled()])
        advance(arena, d)
    g, s = np.concatenate(greedy), np.concatenate(shown)
    return float((g == s).mean()), float(np.bincount(s).max() / max(len(s), 1))
