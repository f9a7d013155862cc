"""Double DQN with proportional prioritized replay, for the zoo's value-based tasks (combat_dqn,
skill_dqn).

- Replay: a sum tree over priorities p_i = (|TD error| + eps)^alpha; a batch is drawn in equal
  strata of the total, and each row's importance weight (N P(i))^-beta / max corrects the bias
  (Schaul et al. 2016, proportional variant). beta anneals to 1 over training.
- Recordings and demonstrations (DQfD, Hester et al. 2018): recorded rows (the traditional AI's
  play, a share of its choices replaced by random ones so the replay also shows what other
  choices do) are kept for good in a reserved part of the buffer with a priority bonus; the rows
  that followed the traditional AI (`demo`) add a large-margin loss
  max_a [Q(s, a) + margin (a != a_demo)] - Q(s, a_demo), so a short training starts from its
  choices instead of random ones and the TD error decides where to leave them.
- Target: r + gamma (1 - terminal) Q_target(s', argmax_a Q_online(s', a)) (Double DQN), Huber loss
  weighted by the importance weights; the target network is copied every `target_sync` updates.
- Epsilon-greedy acting among the valid choices (a task may rule choices out per row).

On CUDA the forward passes run under bfloat16 autocast (mixed precision).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class DQNSettings:
    n_choices: int
    gamma: float = 0.99
    lr: float = 1e-4
    batch_size: int = 256
    capacity: int = 1 << 16
    alpha: float = 0.6
    beta_start: float = 0.4
    priority_eps: float = 1e-3
    demo_bonus: float = 0.1
    """Added to a recording's priority, so it keeps being replayed."""
    margin: float = 0.1
    demo_weight: float = 1.0
    target_sync: int = 200
    grad_clip: float = 10.0
    reward_unit: float = 10.0
    """Rewards are divided by this before learning, so that the margin and the Huber loss's
    unit step mean something against the Q-values (the zoo's per-step rewards are of order
    1-10, a kill 80-150)."""


class SumTree:
    """Priorities of `capacity` rows (a power of two) in a binary sum tree; vectorized updates and
    stratified sampling."""

    def __init__(self, capacity: int) -> None:
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"capacity must be a power of two >= 2, got {capacity}")
        self.capacity = capacity
        self.tree = np.zeros(2 * capacity)
        self.levels = capacity.bit_length() - 1

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def leaves(self, rows: I64) -> NDArray[np.float64]:
        out: NDArray[np.float64] = self.tree[rows + self.capacity]
        return out

    def set(self, rows: I64, priorities: NDArray[np.float64]) -> None:
        node = np.asarray(rows, np.int64) + self.capacity
        self.tree[node] = priorities
        for _ in range(self.levels):
            node = np.unique(node // 2)
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]

    def find(self, values: NDArray[np.float64]) -> I64:
        """The row whose cumulative-priority interval holds each value."""
        node = np.ones(len(values), np.int64)
        v = values.copy()
        for _ in range(self.levels):
            left = self.tree[2 * node]
            right = v > left
            v = np.where(right, v - left, v)
            node = 2 * node + right
        rows: I64 = np.minimum(node - self.capacity, self.capacity - 1)
        return rows


class PrioritizedReplay:
    """Transitions (obs, choice, reward, next_obs, terminal, demo) with proportional priorities.
    Recordings (the demonstrator's play, some of it with exploring choices) fill the start of the
    buffer and are never overwritten; the agent's own transitions cycle through the rest."""

    def __init__(self, capacity: int, obs_dim: int, settings: DQNSettings) -> None:
        self.tree = SumTree(capacity)
        self.settings = settings
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.choice = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.terminal = np.zeros(capacity, np.float32)
        self.demo = np.zeros(capacity, bool)
        self.kept = np.zeros(capacity, bool)
        self.n_kept = 0
        self.size = 0
        self._next = 0
        self._max_priority = 1.0

    def add(
        self, obs: F32, choice: I64, reward: F32, next_obs: F32, terminal: B, demo: B, keep: bool
    ) -> None:
        """Append rows; `demo` marks the rows whose choice is the demonstrator's (the margin loss
        applies), `keep` puts them in the permanent part (recordings, before any other row)."""
        n = len(choice)
        if n == 0:
            return
        cap = self.tree.capacity
        if keep:
            if self.size > self.n_kept:
                raise ValueError("recordings go in before the agent's own transitions")
            take = np.arange(min(n, cap // 2 - self.n_kept))  # at most half are recordings
            rows = self.n_kept + take
            self.n_kept += len(take)
            self._next = self.n_kept
        else:
            ring = cap - self.n_kept
            take = np.arange(max(0, n - ring), n)
            offset = self._next - self.n_kept
            rows = self.n_kept + (offset + np.arange(len(take))) % ring
            self._next = self.n_kept + (offset + len(take)) % ring
        if len(rows) == 0:
            return
        self.obs[rows] = obs[take]
        self.next_obs[rows] = next_obs[take]
        self.choice[rows] = choice[take]
        self.reward[rows] = reward[take] / self.settings.reward_unit
        self.terminal[rows] = terminal[take]
        self.demo[rows] = demo[take]
        self.kept[rows] = keep
        self.size = min(max(self.size, int(rows.max()) + 1), cap)
        self.tree.set(rows, np.full(len(rows), self._max_priority))

    def sample(
        self, batch: int, beta: float, rng: np.random.Generator
    ) -> tuple[I64, NDArray[np.float64]]:
        """Row indices drawn in proportion to priority (stratified) and their importance weights."""
        total = self.tree.total
        edges = np.linspace(0.0, total, batch + 1)
        values = rng.uniform(edges[:-1], edges[1:])
        rows = np.minimum(self.tree.find(values), self.size - 1)
        p = np.maximum(self.tree.leaves(rows), 1e-12) / total
        weights = (self.size * p) ** -beta
        return rows, weights / weights.max()

    def update(self, rows: I64, td: NDArray[np.float64]) -> None:
        s = self.settings
        priority = (np.abs(td) + s.priority_eps + s.demo_bonus * self.kept[rows]) ** s.alpha
        self._max_priority = max(self._max_priority, float(priority.max()))
        self.tree.set(rows, priority)


class DoubleDQN:
    """An online and a target network over the same module, and the update."""

    def __init__(self, net: nn.Module, settings: DQNSettings, device: str = "cpu") -> None:
        self.settings = settings
        self.device = device
        self.online = net.to(device)
        self.target = copy.deepcopy(net).eval()
        for parameter in self.target.parameters():
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=settings.lr)
        self.updates = 0

    def _autocast(self) -> torch.autocast:
        return torch.autocast("cuda", torch.bfloat16, enabled=self.device.startswith("cuda"))

    def q_values(self, obs: F32) -> F32:
        self.online.eval()
        with torch.no_grad(), self._autocast():
            q = self.online(torch.as_tensor(obs, device=self.device))
        self.online.train()
        out: F32 = q.float().cpu().numpy()
        return out

    def act(self, obs: F32, valid: B, epsilon: float, rng: np.random.Generator) -> I64:
        """Greedy among the valid choices, a uniformly random valid one with prob. epsilon."""
        if len(obs) == 0:
            return np.zeros(0, np.int64)
        q = np.where(valid, self.q_values(obs), -np.inf)
        greedy = q.argmax(1)
        random = (rng.random(valid.shape) * valid).argmax(1)
        chosen: I64 = np.where(rng.random(len(obs)) < epsilon, random, greedy).astype(np.int64)
        return chosen

    def update(self, replay: PrioritizedReplay, beta: float, rng: np.random.Generator) -> float:
        """One gradient step on a prioritized batch; returns the loss."""
        s = self.settings
        rows, weights = replay.sample(s.batch_size, beta, rng)
        dev = self.device

        def tensor(x: NDArray[np.generic]) -> torch.Tensor:
            return torch.as_tensor(x, device=dev)

        obs, next_obs = tensor(replay.obs[rows]), tensor(replay.next_obs[rows])
        choice = tensor(replay.choice[rows])
        reward, terminal = tensor(replay.reward[rows]), tensor(replay.terminal[rows])
        demo = tensor(replay.demo[rows]).float()
        with torch.no_grad(), self._autocast():
            self.online.eval()
            best = self.online(next_obs).argmax(1, keepdim=True)
            self.online.train()
            next_q = self.target(next_obs).gather(1, best)[:, 0].float()
            goal = reward + s.gamma * (1.0 - terminal) * next_q
        with self._autocast():
            q = self.online(obs).float()
        q_taken = q.gather(1, choice[:, None])[:, 0]
        td = goal - q_taken
        loss = (tensor(weights).float() * F.smooth_l1_loss(q_taken, goal, reduction="none")).mean()
        if s.demo_weight > 0 and bool(demo.any()):
            margin = s.margin * (torch.arange(q.shape[1], device=dev)[None, :] != choice[:, None])
            # Choices a module rules out (very negative Q) stay out of the margin's max.
            excess = (q + margin).max(1).values - q_taken
            loss = loss + s.demo_weight * (excess * demo).sum() / demo.sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.online.parameters(), s.grad_clip)
        self.optimizer.step()
        replay.update(rows, td.detach().cpu().numpy().astype(np.float64))
        self.updates += 1
        if self.updates % s.target_sync == 0:
            self.target.load_state_dict(self.online.state_dict())
        return float(loss.detach())
