"""sac: where a monster of the archetype moves, as a continuous vector (dx, dy) in [-1, 1]^2 from
its 64 contract floats, learned by soft actor-critic on the contract simulator.

Input: the monster's 64 floats. Output: the deterministic action tanh(mean), (dx, dy): dx to the
monster's right, dy toward its target (else the nearest player in view; the map's +y without
one), scaled to its walk step: the game server walks round(step x the vector, turned into map
coordinates) cells per axis (movement_env.world_offset); a vector that rounds to no cell stays,
and then the traditional AI attacks or casts as it would, in range. Attacks and skills stay the
traditional AI's. Training and evaluation run on movement_env.MovementEnv (the reward is in its
docstring); action diversity bins the vectors into the 9 DIRECTIONS (movement_env.direction_of).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from config.zoo import archetype_training
from models.zoo.base import Checkpoints, Trained, ZooSettings
from models.zoo.tasks.movement_env import (
    DIRECTION_VECTORS,
    TRAIN_ENVS,
    Decide,
    MovementEnv,
    MovementTask,
    direction_of,
    warm_start_demos,
    warm_start_seconds,
)
from models.zoo.trainers.sac import GaussianActor, SACConfig, TwinCritic, imitate, train_sac
from plpython.zoo_types import STATE_DIM, ZOO_TYPES

ACTION_DIM = ZOO_TYPES["sac"].output_dim
#: Hidden widths of the actor and of each critic: the seed's 256 x 3 (full), reduced ones.
HIDDEN = {"tiny": [64, 64], "small": [128, 128, 128], "full": [256, 256, 256]}
EVAL_SEED = 93_000
#: Critic-only updates after the warm start (the actor keeps its imitation meanwhile).
CRITIC_WARMUP = {"tiny": 50, "small": 300, "full": 5000}
#: The warm-started actor fine-tunes at this share of the learning rate.
ACTOR_LR_SCALE = 0.1


def deterministic(module: nn.Module) -> Decide:
    """The serving answer: tanh(mean), binned into the 9 moves for diversity."""

    def decide(states: NDArray[np.float32]) -> tuple[NDArray[np.float64], NDArray[np.int64], None]:
        with torch.no_grad():
            vectors = module(torch.as_tensor(states)).numpy().astype(np.float64)
        return vectors, direction_of(vectors), None

    return decide


class SACTask(MovementTask):
    model_type = "sac"
    eval_seed = EVAL_SEED
    with_value = False

    def decider(self, module: nn.Module) -> Decide:
        return deterministic(module)

    def build(self, archetype: str, profile: str) -> nn.Module:
        return GaussianActor(STATE_DIM, ACTION_DIM, HIDDEN[profile])

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        torch.set_num_threads(1)
        profile = settings.profile
        actor = GaussianActor(STATE_DIM, ACTION_DIM, HIDDEN[profile])
        critic = TwinCritic(STATE_DIM, ACTION_DIM, HIDDEN[profile])
        start = time.monotonic()
        imitation = None
        if init is not None:
            actor.load_state_dict(init.state_dict())
        else:
            # Warm start on the traditional AI's own walking (so SAC starts from the baseline).
            states, moves = warm_start_demos(archetype, profile, settings.seed)
            # The move each one made, at full length: a regression to partial steps would sit
            # on the rounding's edges, where the slightest update flips stay and walk.
            decisive = DIRECTION_VECTORS[moves]
            imitation = imitate(actor, states, decisive, warm_start_seconds(settings.budget_s))
        config = SACConfig(
            lr=settings.pick(settings.lr, {profile: archetype_training(archetype).learning_rate}),
            batch=settings.pick(settings.batch_size, {profile: 256}),
            critic_warmup=CRITIC_WARMUP[profile] if init is None else 0,
            actor_lr_scale=ACTOR_LR_SCALE if init is None else 1.0,
            seed=settings.seed,
        )
        env = MovementEnv(archetype, TRAIN_ENVS[profile], seed=settings.seed)
        limits = self.limits(archetype, settings, start, checkpoints)
        result = train_sac(actor, critic, env, config, **limits)
        return self.trained(
            actor,
            result,
            start,
            lr=config.lr,
            reward_divisor=result.reward_scale,
            imitation_mse=imitation,
        )


TASK = SACTask()
