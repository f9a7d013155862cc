"""What combat_dqn and skill_dqn share as zoo tasks: they learn by acting (no collected data),
train a Double DQN with prioritized replay seeded by the traditional AI's play
(models/zoo/trainers/dqn.py) in the arena (dqn_arena.py), and are evaluated on held-out fights
against the traditional AI deciding on the same fights.

Run settings: `samples_per_archetype` is the number of recorded transitions (the traditional AI's
play, RECORD_EPSILON of its choices random) before learning; `epochs` caps the pretraining on
them (passes over the recordings); `num_episodes` caps the fights played while learning; the
profile's budget_s bounds it all. Evaluation: EVAL_FIGHTS held-out fights (seed EVAL_SEED), of
which those holding a monster of the archetype count, played once by the greedy model and once
by the traditional AI.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from config.zoo import archetype_training
from models.zoo.base import Checkpoints, Evaluation, Trained, ZooSettings, entropy_bits
from models.zoo.tasks.dqn_arena import (
    EVAL_SEED,
    Arena,
    Chooser,
    Plan,
    advance,
    decide,
    play,
    train_in_arena,
)
from models.zoo.trainers.dqn import DoubleDQN, DQNSettings

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Profile defaults: fights in lockstep, recorded transitions, share of the remaining budget spent
#: learning from the recordings alone, held-out fights, replay capacity, target sync, batch.
N_ENVS = {"tiny": 16, "small": 32, "full": 256}
DEMO_SAMPLES = {"tiny": 1500, "small": 12_000, "full": 200_000}
PRETRAIN_SHARE = {"tiny": 0.4, "small": 0.35, "full": 0.1}
EVAL_FIGHTS = {"tiny": 64, "small": 300, "full": 2000}
CAPACITY = {"tiny": 1 << 13, "small": 1 << 16, "full": 1 << 20}
TARGET_SYNC = {"tiny": 100, "small": 250, "full": 2000}
#: Share of the recorded choices drawn at random (the replay then holds what other choices do).
RECORD_EPSILON = 0.3
BATCH = {"tiny": 64, "small": 128, "full": 256}
#: The seed's combat_dqn learning rate for the full size; the smaller sizes take the archetype's
#: (config/zoo.py), and tiny a larger one to learn in seconds.
FULL_LR = 1e-4
TINY_LR = 1e-3


class Greedy:
    """A trained module's greedy choice among the valid ones (evaluation)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module.eval()

    def __call__(self, inputs: F32, valid: B, epsilon: float, rng: np.random.Generator) -> I64:
        with torch.no_grad():
            q = self.module(torch.as_tensor(inputs)).numpy()
        chosen: I64 = np.where(valid, q, -np.inf).argmax(1).astype(np.int64)
        return chosen


class DQNTask:
    """A zoo task over a Chooser and a Q-network; subclasses name them."""

    model_type = ""
    n_choices = 0

    def chooser(self) -> Chooser:
        raise NotImplementedError

    def network(self, profile: str) -> nn.Module:
        raise NotImplementedError

    def reward_unit(self, archetype: str) -> str:
        config = archetype_training(archetype)
        return (
            f"config/zoo.py's {archetype} weights x reward_scale {config.reward_scale} per "
            "controlled monster and fight (damage in % of the party's max hp, damage taken in % "
            "of its own; models/zoo/tasks/dqn_reward.py)"
        )

    def build(self, archetype: str, profile: str) -> nn.Module:
        return self.network(profile).eval()

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        return {}

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        start = time.monotonic()
        torch.manual_seed(settings.seed)
        profile = settings.profile
        net = self.network(profile)
        if init is not None:
            net.load_state_dict(init.state_dict())
        config = archetype_training(archetype)
        lr = settings.pick(
            settings.lr, {"tiny": TINY_LR, "small": config.learning_rate, "full": FULL_LR}
        )
        dqn = DQNSettings(
            self.n_choices,
            lr=lr,
            batch_size=settings.pick(settings.batch_size, BATCH),
            capacity=CAPACITY[profile],
            target_sync=TARGET_SYNC[profile],
        )
        learner = DoubleDQN(net.train(), dqn, settings.device)
        plan = Plan(
            n_envs=N_ENVS[profile],
            demo_samples=settings.pick(settings.samples_per_archetype, DEMO_SAMPLES),
            record_epsilon=RECORD_EPSILON,
            pretrain_share=PRETRAIN_SHARE[profile],
            epsilon=config.exploration,
            online_fights=settings.num_episodes,
            pretrain_epochs=settings.epochs,
        )

        def checkpoint(step: int) -> None:
            checkpoints.step(step, learner.online, learner.optimizer)

        history, samples = train_in_arena(
            learner,
            self.chooser(),
            archetype,
            settings,
            plan,
            f"{self.model_type}/{archetype}",
            checkpoint,
        )
        module = learner.online.cpu().eval()
        notes: dict[str, Any] = {
            "updates": learner.updates,
            "lr": dqn.lr,
            "batch_size": dqn.batch_size,
            "epsilon": plan.epsilon,
            "gamma": dqn.gamma,
        }
        return Trained(
            module, history=history, samples=samples, seconds=time.monotonic() - start, notes=notes
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        n = EVAL_FIGHTS[settings.profile]
        chooser = self.chooser()
        mine = play(archetype, chooser, Greedy(module), n, EVAL_SEED)
        base = play(archetype, chooser, None, n, EVAL_SEED)
        scale = archetype_training(archetype).reward_scale
        rewards = np.asarray(mine.episode_rewards) * scale
        return Evaluation(
            episodes=mine.fights,
            win_rate=mine.wins / max(mine.fights, 1),
            baseline_win_rate=base.wins / max(base.fights, 1),
            avg_episode_reward=float(rewards.mean()) if rewards.size else 0.0,
            reward_scale=self.reward_unit(archetype),
            # + 0.0: a single answer gives -0.0 bits.
            action_entropy_bits=entropy_bits(np.asarray(mine.answers), self.n_choices) + 0.0,
            action_count=self.n_choices,
        )

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        """Inputs of the archetype's monsters in fights the traditional AI plays."""
        arena = Arena(archetype, 32, seed, self.chooser())
        rng = np.random.default_rng(seed)
        rows: list[F32] = []
        have = 0
        while have < n:
            d = decide(arena, None, 0.0, rng)
            picked = d.inputs[arena.controlled()]
            rows.append(picked)
            have += len(picked)
            advance(arena, d)
        out = np.concatenate(rows)
        order = np.random.default_rng(seed).permutation(len(out))[:n]
        examples: np.ndarray = out[order].astype(np.float32)
        return examples
