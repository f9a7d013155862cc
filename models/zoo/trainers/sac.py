"""Soft actor-critic (Haarnoja et al. 2018, with automatic temperature) for one archetype's
monsters choosing a continuous action: a tanh-squashed Gaussian actor, twin critics with Polyak
targets, the temperature tuned toward a target entropy of -action_dim.

The environment is anything with `observe() -> (obs (E, N, D), controlled (E, N))` and
`step(actions (E, N, A)) -> step` whose `reward`, `ended`, `obs` (E, N[, D]) give each deciding
monster's reward, whether its episode ended (died or fight over) and its next state. Transitions go
to maddpg's ReplayBuffer, one row per monster and step.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

from models.algorithms.maddpg import ReplayBuffer, soft_update
from models.zoo.base import Checkpoints, Progress
from models.zoo.trainers.common import Stepped as Rewarded
from models.zoo.trainers.common import TrainResult, finish_returns, fit_for, seeded, within
from models.zoo.trainers.ppo import mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class Stepped(Rewarded, Protocol):
    """A step's rewards and ends (common.Stepped), and every slot's next state."""

    obs: NDArray[np.float32]
    controlled: NDArray[np.bool_]


class ContinuousEnv(Protocol):
    def observe(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]: ...

    def step(self, actions: NDArray[np.float64]) -> Stepped: ...


class GaussianActor(nn.Module):
    """State -> a tanh-squashed Gaussian; the serving forward is its deterministic action
    tanh(mean)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: list[int]) -> None:
        super().__init__()
        self.trunk = mlp(in_dim, hidden)
        self.mean = nn.Linear(hidden[-1], action_dim)
        self.log_std = nn.Linear(hidden[-1], action_dim)
        # Start with moderate noise (std ~0.37): a warm-started actor keeps its moves at first.
        nn.init.constant_(self.log_std.bias, -1.0)

    def dist(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(inputs)
        return self.mean(z), self.log_std(z).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized action and its log-probability (tanh's Jacobian included)."""
        mean, log_std = self.dist(inputs)
        u = mean + log_std.exp() * torch.randn_like(mean)
        action = torch.tanh(u)
        normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
        # log(1 - tanh(u)^2), written stably.
        jacobian = 2.0 * (np.log(2.0) - u - F.softplus(-2.0 * u))
        return action, (normal - jacobian).sum(-1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dist(inputs)[0])


class TwinCritic(nn.Module):
    def __init__(self, in_dim: int, action_dim: int, hidden: list[int]) -> None:
        super().__init__()
        self.q1 = nn.Sequential(mlp(in_dim + action_dim, hidden), nn.Linear(hidden[-1], 1))
        self.q2 = nn.Sequential(mlp(in_dim + action_dim, hidden), nn.Linear(hidden[-1], 1))

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = torch.cat([state, action], -1)
        return self.q1(x)[..., 0], self.q2(x)[..., 0]


@dataclass
class SACConfig:
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    batch: int = 256
    buffer: int = 200_000
    updates_per_step: int = 1
    warmup_steps: int = 8
    """Environment steps with the starting actor before updates begin (and the reward's scale
    is measured)."""
    init_alpha: float = 0.05
    target_entropy_per_dim: float = -1.0
    """The temperature is tuned toward this entropy per action dimension (SAC's default -1)."""
    actor_lr_scale: float = 1.0
    """The actor's learning rate is lr times this (below 1: fine-tuning a warm start)."""
    critic_warmup: int = 0
    """Updates of the critic alone before the actor and temperature start learning."""
    seed: int = 0


@dataclass
class SACResult(TrainResult):
    reward_scale: float = 1.0


def train_sac(
    actor: GaussianActor,
    critic: TwinCritic,
    env: ContinuousEnv,
    config: SACConfig,
    budget_s: float,
    max_updates: int | None = None,
    checkpoints: Checkpoints | None = None,
    progress: Progress | None = None,
) -> SACResult:
    """Train `actor` and `critic` in place until `budget_s` seconds or `max_updates` updates.
    Rewards are divided by their standard deviation over the warm-up steps (the temperature's
    scale then does not depend on the archetype's reward units)."""
    rng = seeded(config.seed)
    target = copy.deepcopy(critic).requires_grad_(False)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=config.lr * config.actor_lr_scale)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=config.lr)
    log_alpha = torch.tensor(float(np.log(config.init_alpha)), requires_grad=True)
    alpha_opt = torch.optim.Adam([log_alpha], lr=config.lr)
    action_dim = actor.mean.out_features
    target_entropy = config.target_entropy_per_dim * action_dim
    replay = ReplayBuffer(config.buffer)
    keys = ("reward", "q_loss", "alpha", "entropy", "return")
    result = SACResult(history={k: [] for k in keys})
    pending: list[dict[str, NDArray[np.float32]]] = []
    obs, ctrl = env.observe()
    running = np.zeros(ctrl.shape)
    finished: list[float] = []
    steps = 0
    start = time.monotonic()
    while within(start, budget_s, result.updates, max_updates):
        actions = np.zeros((*ctrl.shape, action_dim))
        if ctrl.any():
            with torch.no_grad():
                actions[ctrl] = actor.sample(torch.as_tensor(obs[ctrl]))[0].numpy()
        step = env.step(actions)
        steps += 1
        rows = {
            "obs": obs[ctrl],
            "action": actions[ctrl].astype(np.float32),
            "reward": step.reward[ctrl].astype(np.float32),
            "next_obs": step.obs[ctrl],
            "done": step.ended[ctrl].astype(np.float32),
        }
        finished += finish_returns(running, ctrl, step)
        obs, ctrl = step.obs, step.controlled
        result.samples += len(rows["obs"])
        if steps <= config.warmup_steps:
            pending.append(rows)
            if steps == config.warmup_steps:
                rewards = np.concatenate([p["reward"] for p in pending])
                result.reward_scale = float(max(rewards.std(), 1e-3))
                for p in pending:
                    replay.add({**p, "reward": p["reward"] / result.reward_scale})
            continue
        if len(rows["obs"]):
            replay.add({**rows, "reward": rows["reward"] / result.reward_scale})
        for _ in range(config.updates_per_step):
            stats = _update(actor, critic, target, replay, log_alpha, target_entropy, config, rng)
            # A warm-started actor waits for the critic: the gradient of an untrained critic
            # would undo what the actor imitated.
            actor_on = result.updates >= config.critic_warmup
            for opt in (critic_opt, actor_opt, alpha_opt) if actor_on else (critic_opt,):
                opt.step()
            soft_update(target, critic, config.tau)
            result.updates += 1
            if checkpoints is not None:
                checkpoints.step(result.updates, actor, actor_opt)
        h = result.history
        h["reward"].append(float(rows["reward"].mean()) if len(rows["reward"]) else 0.0)
        for k in ("q_loss", "alpha", "entropy"):
            h[k].append(stats[k])
        h["return"].append(float(np.mean(finished[-50:])) if finished else float("nan"))
        if progress is not None:
            progress(time.monotonic() - start, budget_s, ret=h["return"][-1], alpha=stats["alpha"])
    result.seconds = time.monotonic() - start
    return result


def _update(
    actor: GaussianActor,
    critic: TwinCritic,
    target: TwinCritic,
    replay: ReplayBuffer,
    log_alpha: torch.Tensor,
    target_entropy: float,
    config: SACConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    """One step's gradients of the critic, actor and temperature (the caller steps them)."""
    b = {k: torch.as_tensor(v) for k, v in replay.sample(config.batch, rng).items()}
    alpha = log_alpha.exp().detach()
    with torch.no_grad():
        next_action, next_logp = actor.sample(b["next_obs"])
        q1_t, q2_t = target(b["next_obs"], next_action)
        soft_value = torch.min(q1_t, q2_t) - alpha * next_logp
        y = b["reward"] + config.gamma * (1.0 - b["done"]) * soft_value
    q1, q2 = critic(b["obs"], b["action"])
    q_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
    critic.zero_grad()
    q_loss.backward()  # type: ignore[no-untyped-call]

    action, logp = actor.sample(b["obs"])
    critic.requires_grad_(False)
    q_pi = torch.min(*critic(b["obs"], action))
    critic.requires_grad_(True)
    actor_loss = (alpha * logp - q_pi).mean()
    actor.zero_grad()
    actor_loss.backward()

    alpha_loss = -(log_alpha * (logp.detach() + target_entropy)).mean()
    log_alpha.grad = None
    alpha_loss.backward()  # type: ignore[no-untyped-call]
    return {
        "q_loss": float(q_loss.detach()),
        "alpha": float(alpha),
        "entropy": float(-logp.detach().mean()),
    }


def imitate(
    actor: GaussianActor,
    states: NDArray[np.float32],
    actions: NDArray[np.float64],
    budget_s: float,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Warm start: fit the deterministic action tanh(mean) to a demonstrator's actions (squared
    error, minibatches of 256, until `budget_s`); returns the final mean squared error."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(actor.parameters(), lr=lr)
    x = torch.as_tensor(states)
    y = torch.as_tensor(actions, dtype=torch.float32)

    def loss_of(idx: NDArray[np.int64]) -> torch.Tensor:
        return F.mse_loss(actor(x[idx]), y[idx])

    fit_for(budget_s, len(y), loss_of, optimizer, rng)
    with torch.no_grad():
        return float(F.mse_loss(actor(x), y))
