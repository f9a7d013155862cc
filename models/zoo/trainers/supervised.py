"""Supervised training for the zoo's supervised tasks: minibatches over arrays, a held-out split
with early stopping (the best validation state is kept), mixed precision and gradient
checkpointing on CUDA, checkpoints and a progress line.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from models.zoo.base import Checkpoints, Progress, Trained, ZooSettings

LossFn = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class FitResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    samples: int = 0
    seconds: float = 0.0
    best_val: float = float("inf")
    epochs: int = 0
    stopped_early: bool = False


def split(
    data: dict[str, np.ndarray], val_fraction: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A shuffled (train, validation) split of equally long arrays."""
    n = len(next(iter(data.values())))
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(n * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return {k: v[train] for k, v in data.items()}, {k: v[val] for k, v in data.items()}


def _batch(arrays: dict[str, np.ndarray], idx: np.ndarray, device: str) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v[idx]).to(device) for k, v in arrays.items()}


def evaluate_loss(
    net: nn.Module, loss_fn: LossFn, data: dict[str, np.ndarray], batch: int, device: str
) -> float:
    n = len(next(iter(data.values())))
    net.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, n, batch):
            idx = np.arange(start, min(start + batch, n))
            total += float(loss_fn(net, _batch(data, idx, device))) * len(idx)
    net.train()
    return total / max(n, 1)


def fit(
    net: nn.Module,
    loss_fn: LossFn,
    data: dict[str, np.ndarray],
    settings: ZooSettings,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    checkpoints: Checkpoints,
    label: str,
    val_fraction: float = 0.15,
    patience: int = 4,
    weight_decay: float = 0.0,
) -> FitResult:
    """Train `net` in place; stops at `epochs`, the profile's time budget, or after `patience`
    epochs without a better validation loss, and leaves `net` at its best validation state."""
    device = settings.device
    cuda = device.startswith("cuda")
    torch.manual_seed(settings.seed)
    net.to(device).train()
    if cuda and hasattr(net, "gradient_checkpointing"):
        setattr(net, "gradient_checkpointing", True)  # noqa: B010 (a module's own switch)
    train, val = split(data, val_fraction, settings.seed)
    n = len(next(iter(train.values())))
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    rng = np.random.default_rng(settings.seed)
    progress = Progress(label, settings.progress)
    result = FitResult(history={"train_loss": [], "val_loss": []})
    best_state = copy.deepcopy(net.state_dict())
    stale, step = 0, 0
    start = time.monotonic()
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        for begin in range(0, n, batch_size):
            idx = order[begin : begin + batch_size]
            with torch.autocast(device_type="cuda", enabled=cuda):
                loss = loss_fn(net, _batch(train, idx, device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
            result.samples += len(idx)
            step += 1
            checkpoints.step(step, net, optimizer)
            progress(time.monotonic() - start, settings.budget_s, epoch=epoch, loss=losses[-1])
            if time.monotonic() - start > settings.budget_s:
                break
        val_loss = evaluate_loss(net, loss_fn, val, batch_size, device)
        result.history["train_loss"].append(float(np.mean(losses)))
        result.history["val_loss"].append(val_loss)
        result.epochs = epoch + 1
        if val_loss < result.best_val:
            result.best_val, stale = val_loss, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= patience:
                result.stopped_early = True
                break
        if time.monotonic() - start > settings.budget_s:
            break
    net.load_state_dict(best_state)
    net.to("cpu").eval()
    if hasattr(net, "gradient_checkpointing"):
        setattr(net, "gradient_checkpointing", False)  # noqa: B010
    result.seconds = time.monotonic() - start
    return result


def fit_task(
    net: nn.Module,
    loss_fn: LossFn,
    data: dict[str, np.ndarray],
    settings: ZooSettings,
    *,
    epochs: dict[str, int],
    batch_size: dict[str, int],
    lr: dict[str, float],
    checkpoints: Checkpoints,
    label: str,
    patience: int = 4,
    weight_decay: float = 0.0,
) -> Trained:
    """`fit` with the profile's epochs, batch size and learning rate (unless the run set them),
    as a task's Trained."""
    result = fit(
        net,
        loss_fn,
        data,
        settings,
        epochs=settings.pick(settings.epochs, epochs),
        batch_size=settings.pick(settings.batch_size, batch_size),
        lr=settings.pick(settings.lr, lr),
        checkpoints=checkpoints,
        label=label,
        patience=patience,
        weight_decay=weight_decay,
    )
    rows = len(next(iter(data.values())))
    return Trained(
        module=net,
        history=result.history,
        samples=result.samples,
        seconds=result.seconds,
        notes={"epochs": result.epochs, "rows": rows, "best_val_loss": result.best_val},
    )
