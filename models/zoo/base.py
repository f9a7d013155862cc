"""What every zoo task provides (`ZooTask`), the run settings, and what training and evaluation
return. Each model type has one module in models/zoo/tasks/ exposing `TASK`, a ZooTask.

A task's serving module maps `inputs` (B, input_dim [+ hidden]) to `outputs`
(B, output_dim [+ hidden]) as plpython/zoo_types.py lays them out; the exporter, the validator
and the database only ever see that signature.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

#: Profiles: "full" is the seed's architecture and hyperparameters; "small" trains all 54 on a
#: 2-core machine within the hour; "tiny" trains in seconds (the tests).
PROFILES = ("tiny", "small", "full")

#: Seconds of training per model in each profile (a task stops at its epochs or this budget).
TRAIN_BUDGET_S = {"tiny": 4.0, "small": 35.0, "full": 3 * 3600.0}


@dataclass(frozen=True)
class ZooSettings:
    """One run's settings; None means "the task's default for the profile"."""

    profile: str = "small"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "cpu"
    samples_per_archetype: int | None = None
    num_episodes: int | None = None
    seed: int = 0
    checkpoint_every: int = 0
    """Save a checkpoint every this many optimizer steps (0: only the final model)."""
    keep_checkpoints: int = 3
    progress: bool = False
    """Print a progress line to stderr as training goes."""
    time_budget_s: float | None = None
    """Seconds of training per model; None: the profile's (TRAIN_BUDGET_S). A run that must not
    depend on the machine's speed (a test) sets its epochs and a budget it never reaches."""

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}")

    @property
    def budget_s(self) -> float:
        return TRAIN_BUDGET_S[self.profile] if self.time_budget_s is None else self.time_budget_s

    def pick(self, value: Any, by_profile: dict[str, Any]) -> Any:
        """`value` when the run set it, else the profile's entry of `by_profile`."""
        return by_profile[self.profile] if value is None else value


@dataclass
class Trained:
    module: nn.Module
    """The serving module, in eval mode, on the CPU."""
    hidden_dim: int = 0
    """Width of the recurrent state appended to inputs and outputs (0: none)."""
    history: dict[str, list[float]] = field(default_factory=dict)
    samples: int = 0
    """Training samples (or environment steps) consumed."""
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """What a task measured of a trained module; None where a measure does not apply."""

    episodes: int = 0
    win_rate: float | None = None
    baseline_win_rate: float | None = None
    """The traditional AI's win rate in the same fights."""
    avg_episode_reward: float | None = None
    reward_scale: str | None = None
    """What one unit of that reward is (the seed's bar of 100 is read on this scale)."""
    action_entropy_bits: float | None = None
    action_count: int | None = None
    """How many distinct answers the model can give (diversity is judged when log2 of it > 2)."""
    explained_variance: float | None = None
    heldout: dict[str, float] = field(default_factory=dict)
    """The task's own held-out metrics, name -> value."""
    heldout_bars: dict[str, tuple[str, float]] = field(default_factory=dict)
    """name -> (">" or "<", bar): the seed's or the task's bar for each held-out metric."""


class Checkpoints(Protocol):
    def step(self, step: int, module: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...


class ZooTask(Protocol):
    model_type: str

    def build(self, archetype: str, profile: str) -> nn.Module:
        """An untrained serving module of the profile's size."""
        ...

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        """Training data for a supervised task; {} for a task that learns by acting."""
        ...

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        """Train from `data` (or by acting); `init` is a module to start from (transfer)."""
        ...

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation: ...

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        """(n, input_dim) float32 inputs drawn as the task's serving sees them (without the
        recurrent state), for export parity and latency."""
        ...


class NoCheckpoints:
    def step(self, step: int, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        return None


class Progress:
    """A progress line on stderr every `every_s` seconds (when enabled)."""

    def __init__(self, label: str, enabled: bool, every_s: float = 2.0) -> None:
        self.label = label
        self.enabled = enabled
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, done: float, total: float, **metrics: float) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < self.every_s:
            return
        self._last = now
        width = 24
        filled = int(width * min(done / total, 1.0)) if total else 0
        shown = " ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        bar = "#" * filled + "." * (width - filled)
        print(f"\r{self.label} [{bar}] {shown}", end="", file=sys.stderr, flush=True)


def entropy_bits(answers: np.ndarray, n: int) -> float:
    """Entropy in bits of the answers' distribution over n choices."""
    counts = np.bincount(np.asarray(answers, dtype=np.int64).ravel(), minlength=n).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: one answer is 0 bits, not -0.0


def explained_variance(predicted: np.ndarray, target: np.ndarray) -> float:
    """1 - Var(target - predicted) / Var(target), over all entries."""
    target = np.asarray(target, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    var = target.var()
    return float(1.0 - (target - predicted).var() / var) if var > 0 else 0.0


def run_module(module: nn.Module, inputs: np.ndarray) -> np.ndarray:
    """The module's outputs for float32 inputs, without gradients."""
    with torch.no_grad():
        out: np.ndarray = module(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
    return out


Callback = Callable[..., None]
