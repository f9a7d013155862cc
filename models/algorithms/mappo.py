"""MAPPO pieces: value normalization, GAE, rollout storage and the recurrent PPO loss.

The trainer (models/training/ctde_trainer.py) drives these; each is small enough to read against
the paper (Yu et al., "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games", 2022).
Shapes: T rollout steps, E environments, N = 5 agent slots, H the actor's recurrent width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Categorical

from models.networks.ctde import CentralizedCritic, DecentralizedActor


class ValueNormalizer:
    """Running mean/std of value targets (MAPPO's ValueNorm): the critic regresses normalized
    returns, so its loss scale does not drift as rewards grow during training."""

    def __init__(self, beta: float = 0.99999, epsilon: float = 1e-5) -> None:
        self.beta, self.epsilon = beta, epsilon
        self.mean, self.mean_sq, self.debias = 0.0, 0.0, 0.0

    def update(self, values: np.ndarray) -> None:
        weight = self.beta
        self.mean = weight * self.mean + (1 - weight) * float(values.mean())
        self.mean_sq = weight * self.mean_sq + (1 - weight) * float((values**2).mean())
        self.debias = weight * self.debias + (1 - weight)

    @property
    def stats(self) -> tuple[float, float]:
        debias = max(self.debias, self.epsilon)
        mean = self.mean / debias
        var = max(self.mean_sq / debias - mean**2, 1e-2)
        return mean, float(np.sqrt(var))

    def normalize(self, values: np.ndarray) -> np.ndarray:
        mean, std = self.stats
        return (values - mean) / std

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        mean, std = self.stats
        return values * std + mean

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "mean_sq": self.mean_sq, "debias": self.debias}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.mean_sq, self.debias = state["mean"], state["mean_sq"], state["debias"]


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    dones: np.ndarray,
    truncated_values: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation over (T, E, N) agent rewards with one team value per env.

    values (T, E) is V(s_t); next_values (E,) bootstraps the step after the rollout. When an episode
    ends at step t, nothing flows back across the reset; if it ended by the time limit, the value of
    its last state (truncated_values (T, E)) is bootstrapped instead of zero.
    Returns (advantages (T, E, N), returns (T, E, N)).
    """
    T = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:], dtype=np.float64)
    for t in reversed(range(T)):
        following = next_values if t == T - 1 else values[t + 1]
        # At a reset the next value is the terminal bootstrap (0 for victory/defeat).
        bootstrap = np.where(dones[t], truncated_values[t], following)
        delta = rewards[t] + gamma * bootstrap[:, None] - values[t][:, None]  # (E, N)
        last = delta + gamma * lam * np.where(dones[t], 0.0, 1.0)[:, None] * last
        advantages[t] = last
    returns = advantages + values[:, :, None]
    return advantages, returns


@dataclass
class Rollout:
    """One rollout of T steps in E environments, as numpy arrays."""

    local_obs: np.ndarray  # (T, E, N, 64)
    signals: np.ndarray  # (T, E, N, 32)
    global_state: np.ndarray  # (T, E, N, 64)
    agent_mask: np.ndarray  # (T, E, N) bool: the agent acted
    pack_mask: np.ndarray  # (T, E, N) bool: the slot holds a pack member
    action_mask: np.ndarray  # (T, E, N, A) bool
    hidden_in: np.ndarray  # (T, E, N, H) recurrent state fed to the actor at step t
    starts: np.ndarray  # (T, E) bool: step t is the first of an episode (hidden was reset)
    actions: np.ndarray  # (T, E, N)
    log_probs: np.ndarray  # (T, E, N)
    values: np.ndarray  # (T, E) denormalized V(s_t)
    rewards: np.ndarray  # (T, E, N)
    dones: np.ndarray  # (T, E)
    truncated_values: np.ndarray  # (T, E) V(last state) where the time limit ended an episode


@dataclass
class LossStats:
    actor_loss: float
    critic_loss: float
    entropy: float
    approx_kl: float
    clip_fraction: float


def chunk_indices(T: int, chunk: int) -> list[tuple[int, int]]:
    """Split T steps into BPTT chunks of `chunk` steps (the last one may be shorter)."""
    return [(s, min(s + chunk, T)) for s in range(0, T, chunk)]


def ppo_update(
    actor: DecentralizedActor,
    critic: CentralizedCritic,
    actor_opt: torch.optim.Optimizer,
    critic_opt: torch.optim.Optimizer,
    rollout: Rollout,
    advantages: np.ndarray,
    value_targets: np.ndarray,
    *,
    epochs: int,
    minibatches: int,
    chunk_length: int,
    clip: float,
    entropy_coef: float,
    value_coef: float,
    max_grad_norm: float,
    use_signals: bool,
    rng: np.random.Generator,
) -> LossStats:
    """PPO epochs over the rollout: advantages (T, E, N) per agent, value_targets (T, E) the
    normalized team returns the critic regresses. The actor is re-run over chunks of
    `chunk_length` steps from the recurrent state stored at each chunk's start, resetting it where
    an episode began inside the chunk: the GRU sees the same history in the update as in the
    rollout (MAPPO's recurrent policy).
    """
    T, E, N = rollout.actions.shape
    device = next(actor.parameters()).device

    def as_t(array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype, device=device)

    # Chunk-major views: sequences of one agent slot in one env, chunk_length steps long.
    spans = chunk_indices(T, chunk_length)
    sequences = [(s, e, env, slot) for s, e in spans for env in range(E) for slot in range(N)]
    # Advantage normalization over acting agents only.
    acting = rollout.agent_mask
    adv = (advantages - advantages[acting].mean()) / (advantages[acting].std() + 1e-8)

    stats: list[LossStats] = []
    # One critic loss per critic minibatch, averaged on its own: the actor's and the critic's
    # minibatches are different passes, so neither's count may dilute the other's mean.
    critic_losses: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(len(sequences))
        for batch in np.array_split(order, minibatches):
            # Group the batch by span so each group is a dense (L, B) block.
            actor_losses, entropies, kls, clips, weights = [], [], [], [], []
            for s, e in spans:
                members = [sequences[i] for i in batch if sequences[i][0] == s]
                if not members:
                    continue
                envs = np.array([m[2] for m in members])
                slots = np.array([m[3] for m in members])
                hidden = as_t(rollout.hidden_in[s, envs, slots]) if actor.use_gru else None
                for t in range(s, e):
                    if hidden is not None and t > s:
                        reset = as_t(rollout.starts[t, envs])[:, None]
                        hidden = hidden * (1.0 - reset)
                    mask_t = rollout.agent_mask[t, envs, slots]
                    logits, next_hidden = actor.logits(
                        as_t(rollout.local_obs[t, envs, slots]),
                        as_t(rollout.signals[t, envs, slots]) if use_signals else None,
                        hidden,
                        as_t(rollout.action_mask[t, envs, slots], torch.bool),
                    )
                    hidden = next_hidden
                    if not mask_t.any():
                        continue
                    m = as_t(mask_t, torch.bool)
                    dist = Categorical(logits=logits[m])
                    new_logp = dist.log_prob(  # type: ignore[no-untyped-call]
                        as_t(rollout.actions[t, envs, slots], torch.long)[m]
                    )
                    old_logp = as_t(rollout.log_probs[t, envs, slots])[m]
                    a = as_t(adv[t, envs, slots])[m]
                    # --- the clipped surrogate objective ---
                    ratio = torch.exp(new_logp - old_logp)
                    surrogate = torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a)
                    actor_losses.append(-surrogate.sum())
                    entropies.append(dist.entropy().sum())  # type: ignore[no-untyped-call]
                    with torch.no_grad():
                        kls.append(((ratio - 1) - (new_logp - old_logp)).sum())
                        clips.append(((ratio - 1).abs() > clip).float().sum())
                    weights.append(int(m.sum()))
            if not weights:
                continue
            count = float(sum(weights))
            actor_loss = torch.stack(actor_losses).sum() / count
            entropy = torch.stack(entropies).sum() / count
            actor_opt.zero_grad()
            (actor_loss - entropy_coef * entropy).backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(actor.parameters(), max_grad_norm)
            actor_opt.step()
            stats.append(
                LossStats(
                    actor_loss=float(actor_loss.detach()),
                    critic_loss=float("nan"),  # the critic's pass below reports its own
                    entropy=float(entropy.detach()),
                    approx_kl=float(torch.stack(kls).sum() / count),
                    clip_fraction=float(torch.stack(clips).sum() / count),
                )
            )

        # --- the centralized critic: V(global state of all agents) -> team return ---
        flat = T * E
        order = rng.permutation(flat)
        states = rollout.global_state.reshape(flat, N, -1)
        packs = rollout.pack_mask.reshape(flat, N)
        targets = value_targets.reshape(flat)
        for batch in np.array_split(order, minibatches):
            keep = batch[packs[batch].any(axis=1)]
            if len(keep) == 0:
                continue
            predicted = critic(as_t(states[keep]), as_t(packs[keep], torch.bool)).squeeze(-1)
            critic_loss = value_coef * torch.nn.functional.huber_loss(
                predicted, as_t(targets[keep]), delta=10.0
            )
            critic_opt.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(critic.parameters(), max_grad_norm)
            critic_opt.step()
            critic_losses.append(float(critic_loss.detach()))
    return LossStats(
        actor_loss=float(np.mean([s.actor_loss for s in stats])) if stats else 0.0,
        critic_loss=float(np.mean(critic_losses)) if critic_losses else 0.0,
        entropy=float(np.mean([s.entropy for s in stats])) if stats else 0.0,
        approx_kl=float(np.mean([s.approx_kl for s in stats])) if stats else 0.0,
        clip_fraction=float(np.mean([s.clip_fraction for s in stats])) if stats else 0.0,
    )
