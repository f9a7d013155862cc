"""movement_ppo: where a monster of the archetype moves, one of 9 moves (N, NE, E, SE, S, SW, W,
NW, stay) from its 64 contract floats, learned by PPO on the contract simulator.

Input: the monster's 64 floats. Output: the 9 moves' probabilities, then the value (the
archetype's expected discounted reward from this state, in VALUE_UNIT = 100 reward points).
The game server walks
the argmax move one walk step in the monster's frame (N: toward its target, else the nearest
player in view; E: to its right; movement_env.world_offset), and leaves attacks and skills to its
traditional AI: on "stay" the monster does what that AI would without walking (in range it
attacks or casts), on a move it walks instead of acting. Training and evaluation run on
movement_env.MovementEnv; the reward is the archetype's (movement_env's docstring).
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
    N_MOVES,
    TRAIN_ENVS,
    Decide,
    MovementEnv,
    MovementTask,
    MoveStep,
    warm_start_demos,
    warm_start_seconds,
)
from models.zoo.trainers.ppo import ActorCritic, PPOConfig, imitate, train_ppo
from plpython.zoo_types import STATE_DIM

#: The seed's network (full) and the reduced ones: shared trunk widths, then each head's.
SIZES = {
    "tiny": ([64], [32]),
    "small": ([256, 256, 128], [128, 64]),
    "full": ([1024, 1024, 512, 512, 256, 256], [256, 128]),
}
#: PPO's rollout length (parallel fights and evaluation fights: movement_env's).
ROLLOUT = {"tiny": 16, "small": 32, "full": 64}
EVAL_SEED = 91_000
#: Reward points per unit of the value output (keeps it near 1, where float32 parity holds).
VALUE_UNIT = 100.0
#: The seed's PPO learning rate is for the full network and hours of training; the reduced
#: profiles use the archetype's own learning rate (config/zoo.py).
FULL_LR = 3e-5


class DiscreteMoves:
    """MovementEnv with answers given as DIRECTIONS indices (what train_ppo steps)."""

    def __init__(self, env: MovementEnv) -> None:
        self.env = env

    def observe(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        return self.env.observe()

    def step(self, answers: NDArray[np.int64]) -> MoveStep:
        return self.env.step(DIRECTION_VECTORS[answers])


def greedy(module: nn.Module) -> Decide:
    """The serving answer: the argmax move, and the value."""

    def decide(
        states: NDArray[np.float32],
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        with torch.no_grad():
            out = module(torch.as_tensor(states)).numpy().astype(np.float64)
        bins = out[:, :N_MOVES].argmax(1)
        return DIRECTION_VECTORS[bins], bins, out[:, N_MOVES] * VALUE_UNIT

    return decide


class MovementPPOTask(MovementTask):
    model_type = "movement_ppo"
    eval_seed = EVAL_SEED
    with_value = True

    def decider(self, module: nn.Module) -> Decide:
        return greedy(module)

    def build(self, archetype: str, profile: str) -> nn.Module:
        shared, head = SIZES[profile]
        return ActorCritic(STATE_DIM, N_MOVES, shared, head, VALUE_UNIT)

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        torch.set_num_threads(1)
        shared, head = SIZES[settings.profile]
        net = ActorCritic(STATE_DIM, N_MOVES, shared, head, VALUE_UNIT)
        if init is not None:
            net.load_state_dict(init.state_dict())
        profile = settings.profile
        lr = FULL_LR if profile == "full" else archetype_training(archetype).learning_rate
        config = PPOConfig(
            lr=settings.pick(settings.lr, {profile: lr}),
            rollout_steps=ROLLOUT[profile],
            minibatch=settings.pick(settings.batch_size, {profile: 512}),
            seed=settings.seed,
        )
        start = time.monotonic()
        match = None
        if init is None:
            # Warm start on the traditional AI's own walking (so PPO starts from the baseline).
            states, moves = warm_start_demos(archetype, profile, settings.seed)
            match = imitate(net, states, moves, warm_start_seconds(settings.budget_s))
        env = MovementEnv(archetype, TRAIN_ENVS[profile], seed=settings.seed)
        limits = self.limits(archetype, settings, start, checkpoints)
        result = train_ppo(net, DiscreteMoves(env), config, **limits)
        return self.trained(
            net, result, start, lr=config.lr, envs=TRAIN_ENVS[profile], imitation_match=match
        )


TASK = MovementPPOTask()
