"""What the zoo's on-policy and off-policy loops share (ppo.py, sac.py): the result they return,
the step protocol they read, the limits they run under, the budget test of their main loop, the
episode-return bookkeeping over (E, N) monster slots and the timed minibatch loop of their
imitation warm starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

import numpy as np
import torch
from numpy.typing import NDArray

from models.zoo.base import Checkpoints, Progress


class Stepped(Protocol):
    """What a step gives every (E, N) slot: the reward of the monster that decided and whether
    its episode ended (died or fight over)."""

    reward: NDArray[np.float64]
    ended: NDArray[np.bool_]


class Limits(TypedDict):
    """What bounds and reports a training loop: the keyword arguments of train_ppo and
    train_sac (seconds, updates at most, checkpoints, progress bar)."""

    budget_s: float
    max_updates: int | None
    checkpoints: Checkpoints | None
    progress: Progress | None


@dataclass
class TrainResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    samples: int = 0
    updates: int = 0
    seconds: float = 0.0


def seeded(seed: int) -> np.random.Generator:
    """Seed torch's generator and return numpy's: one seed fixes the run."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    return rng


def within(start: float, budget_s: float, updates: int, max_updates: int | None) -> bool:
    """Whether a loop that started at `start` (time.monotonic) may go on."""
    return time.monotonic() - start < budget_s and (max_updates is None or updates < max_updates)


def finish_returns(
    running: NDArray[np.float64], ctrl: NDArray[np.bool_], step: Stepped
) -> list[float]:
    """Add the step's rewards of the deciding slots to `running` (in place) and return the
    returns of the episodes it ended; a slot that ended, or did not decide, starts again at 0."""
    running += np.where(ctrl, step.reward, 0.0)
    finished = list(running[step.ended])
    running[step.ended | ~ctrl] = 0.0
    return finished


def fit_for(
    budget_s: float,
    n: int,
    loss_of: Callable[[NDArray[np.int64]], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
) -> None:
    """Gradient steps on `loss_of(rows)` over shuffled minibatches of about 256 of the n rows,
    pass after pass, until `budget_s` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < budget_s:
        for idx in np.array_split(rng.permutation(n), max(1, n // 256)):
            loss = loss_of(idx)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if time.monotonic() - start >= budget_s:
                break
