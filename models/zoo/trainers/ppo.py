"""PPO for one archetype's monsters choosing among discrete answers (the zoo's movement_ppo):
an actor-critic with a shared trunk, clipped surrogate, GAE, value normalization.

The environment is anything with `observe() -> (obs (E, N, D), controlled (E, N))` and
`step(answers (E, N)) -> step` whose `reward`, `ended` (E, N) say what the monsters that decided
got and whether their episode ended (died or fight over). Every controlled monster is one agent;
a slot's episode is cut where it ended, so GAE never bootstraps across a death or a new fight
(mappo.gae over E x N one-agent rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

from models.algorithms.mappo import ValueNormalizer, gae
from models.zoo.base import Checkpoints, Progress
from models.zoo.trainers.common import Stepped, TrainResult, finish_returns, fit_for, seeded, within


class DiscreteEnv(Protocol):
    def observe(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]: ...

    def step(self, answers: NDArray[np.int64]) -> Stepped: ...


def mlp(width: int, hidden: list[int]) -> nn.Sequential:
    """Linear + ReLU layers of the given widths (an empty list: the identity)."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Shared trunk, then an actor head (logits) and a critic head (a normalized value). The
    serving forward returns the answers' probabilities, then the value in units of
    `value_unit` reward points (the value normalizer's statistics are buffers, set when training
    ends; a value of hundreds of points would not keep ONNX parity within 1e-4 in float32)."""

    value_mean: torch.Tensor
    value_std: torch.Tensor

    def __init__(
        self,
        in_dim: int,
        n_actions: int,
        shared: list[int],
        head: list[int],
        value_unit: float = 1.0,
    ) -> None:
        super().__init__()
        self.value_unit = value_unit
        self.trunk = mlp(in_dim, shared)
        width = shared[-1] if shared else in_dim
        last = head[-1] if head else width
        self.actor = nn.Sequential(mlp(width, head), nn.Linear(last, n_actions))
        self.critic = nn.Sequential(mlp(width, head), nn.Linear(last, 1))
        self.register_buffer("value_mean", torch.zeros(()))
        self.register_buffer("value_std", torch.ones(()))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.orthogonal_(module.weight, gain=float(np.sqrt(2)))
                nn.init.zeros_(module.bias)
        # A near-uniform first policy (PPO practice): small final actor weights.
        nn.init.orthogonal_(cast(nn.Linear, self.actor[-1]).weight, gain=0.01)
        nn.init.orthogonal_(cast(nn.Linear, self.critic[-1]).weight, gain=1.0)

    def heads(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(inputs)
        return self.actor(z), self.critic(z)[..., 0]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        logits, value = self.heads(inputs)
        value = value * self.value_std + self.value_mean
        return torch.cat([F.softmax(logits, dim=-1), value[..., None]], dim=-1)


@dataclass
class PPOConfig:
    lr: float = 3e-5
    clip: float = 0.2
    gamma: float = 0.99
    lam: float = 0.97
    rollout_steps: int = 32
    epochs: int = 4
    minibatch: int = 512
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    seed: int = 0


PPOResult = TrainResult


@dataclass
class _Rollout:
    obs: list[NDArray[np.float32]] = field(default_factory=list)
    ctrl: list[NDArray[np.bool_]] = field(default_factory=list)
    actions: list[NDArray[np.int64]] = field(default_factory=list)
    log_probs: list[NDArray[np.float64]] = field(default_factory=list)
    values: list[NDArray[np.float64]] = field(default_factory=list)
    rewards: list[NDArray[np.float64]] = field(default_factory=list)
    ended: list[NDArray[np.bool_]] = field(default_factory=list)


def _act(
    net: ActorCritic, obs: NDArray[np.float32], norm: ValueNormalizer, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Sampled answers, their log-probabilities and the (denormalized) values of (K, D) rows."""
    with torch.no_grad():
        logits, value = net.heads(torch.as_tensor(obs))
        logp_all = F.log_softmax(logits, dim=-1).numpy().astype(np.float64)
    p = np.exp(logp_all)
    # Inverse-CDF sampling from numpy's generator: one seed fixes the run.
    actions = (p.cumsum(1) < rng.random((len(p), 1))).sum(1).clip(0, p.shape[1] - 1)
    logp = logp_all[np.arange(len(p)), actions]
    return actions.astype(np.int64), logp, norm.denormalize(value.numpy().astype(np.float64))


def train_ppo(
    net: ActorCritic,
    env: DiscreteEnv,
    config: PPOConfig,
    budget_s: float,
    max_updates: int | None = None,
    checkpoints: Checkpoints | None = None,
    progress: Progress | None = None,
    on_episode: Callable[[NDArray[np.float64]], None] | None = None,
) -> PPOResult:
    """Train `net` in place until `budget_s` seconds or `max_updates` rollouts."""
    rng = seeded(config.seed)
    # Created before the clock starts: the first optimizer imports torch's compiler (seconds).
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, eps=1e-5)
    norm = ValueNormalizer()
    result = PPOResult(history={k: [] for k in ("reward", "entropy", "value_loss", "kl", "return")})
    start = time.monotonic()
    obs, ctrl = env.observe()
    returns_now = np.zeros(ctrl.shape)
    while within(start, budget_s, result.updates, max_updates):
        roll = _Rollout()
        finished: list[float] = []
        for _ in range(config.rollout_steps):
            actions = np.zeros(ctrl.shape, np.int64)
            logp = np.zeros(ctrl.shape)
            values = np.zeros(ctrl.shape)
            if ctrl.any():
                a, lp, v = _act(net, obs[ctrl], norm, rng)
                actions[ctrl], logp[ctrl], values[ctrl] = a, lp, v
            step = env.step(actions)
            roll.obs.append(obs)
            roll.ctrl.append(ctrl)
            roll.actions.append(actions)
            roll.log_probs.append(logp)
            roll.values.append(values)
            roll.rewards.append(np.where(ctrl, step.reward, 0.0))
            roll.ended.append(step.ended | ~ctrl)
            finished += finish_returns(returns_now, ctrl, step)
            obs, ctrl = env.observe()
        last = np.zeros(ctrl.shape)
        if ctrl.any():
            last[ctrl] = _act(net, obs[ctrl], norm, rng)[2]
        stats = _update(net, optimizer, norm, roll, last, config, rng)
        result.updates += 1
        mask = np.stack(roll.ctrl)
        result.samples += int(mask.sum())
        h = result.history
        h["reward"].append(float(np.stack(roll.rewards)[mask].mean()) if mask.any() else 0.0)
        h["entropy"].append(stats["entropy"])
        h["value_loss"].append(stats["value_loss"])
        h["kl"].append(stats["kl"])
        h["return"].append(float(np.mean(finished)) if finished else float("nan"))
        if on_episode is not None and finished:
            on_episode(np.asarray(finished))
        if checkpoints is not None:
            checkpoints.step(result.updates, net, optimizer)
        if progress is not None:
            elapsed = time.monotonic() - start
            progress(elapsed, budget_s, ret=h["return"][-1], entropy=stats["entropy"])
    mean, std = norm.stats
    net.value_mean.fill_(mean / net.value_unit)
    net.value_std.fill_(std / net.value_unit)
    result.seconds = time.monotonic() - start
    return result


def _update(
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    norm: ValueNormalizer,
    roll: _Rollout,
    last_values: NDArray[np.float64],
    config: PPOConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    T = len(roll.obs)
    E, N = roll.ctrl[0].shape
    rows = (T, E * N, 1)
    ended = np.stack(roll.ended).reshape(T, E * N)
    advantages, returns = gae(
        np.stack(roll.rewards).reshape(rows),
        np.stack(roll.values).reshape(rows),
        last_values.reshape(E * N, 1),
        ended,
        np.zeros(rows),
        config.gamma,
        config.lam,
    )
    mask = np.stack(roll.ctrl).reshape(-1)
    obs = np.stack(roll.obs).reshape(T * E * N, -1)[mask]
    actions = np.stack(roll.actions).reshape(-1)[mask]
    old_logp = np.stack(roll.log_probs).reshape(-1)[mask]
    adv = advantages.reshape(-1)[mask]
    ret = returns.reshape(-1)[mask]
    out = {"entropy": 0.0, "value_loss": 0.0, "kl": 0.0}
    if len(adv) < 2:
        return out
    norm.update(ret)
    target = norm.normalize(ret)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    tensors = {
        k: torch.as_tensor(v)
        for k, v in (
            ("obs", obs),
            ("actions", actions),
            ("old_logp", old_logp.astype(np.float32)),
            ("adv", adv.astype(np.float32)),
            ("target", target.astype(np.float32)),
        )
    }
    batches = 0
    for _ in range(config.epochs):
        order = rng.permutation(len(adv))
        for s in range(0, len(order), config.minibatch):
            idx = torch.as_tensor(order[s : s + config.minibatch])
            b = {k: v[idx] for k, v in tensors.items()}
            logits, value = net.heads(b["obs"])
            logp_all = F.log_softmax(logits, dim=-1)
            logp = logp_all.gather(1, b["actions"][:, None])[:, 0]
            ratio = torch.exp(logp - b["old_logp"])
            clipped = torch.clamp(ratio, 1 - config.clip, 1 + config.clip)
            actor_loss = -torch.min(ratio * b["adv"], clipped * b["adv"]).mean()
            value_loss = F.mse_loss(value, b["target"])
            entropy = -(logp_all.exp() * logp_all).sum(1).mean()
            loss = actor_loss + config.value_coef * value_loss - config.entropy_coef * entropy
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                out["kl"] += float((b["old_logp"] - logp).mean())
            out["entropy"] += float(entropy.detach())
            out["value_loss"] += float(value_loss.detach())
            batches += 1
    return {k: v / max(batches, 1) for k, v in out.items()}


def imitate(
    net: ActorCritic,
    states: NDArray[np.float32],
    answers: NDArray[np.int64],
    budget_s: float,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Warm start: fit the actor to a demonstrator's answers (cross-entropy, minibatches of 256,
    until `budget_s`); returns the share of answers the actor's argmax then matches."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = torch.as_tensor(states), torch.as_tensor(answers)

    def loss_of(idx: NDArray[np.int64]) -> torch.Tensor:
        return F.cross_entropy(net.heads(x[idx])[0], y[idx])

    fit_for(budget_s, len(y), loss_of, optimizer, rng)
    with torch.no_grad():
        return float((net.heads(x)[0].argmax(1) == y).float().mean())
