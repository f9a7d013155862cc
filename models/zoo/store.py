"""Where the zoo's pipeline keeps what each step leaves for the next, per profile, archetype and
model type: runs/zoo/<profile>/<archetype>/<model_type>/

    data.npz           collect's samples (supervised tasks)
    model.pt           the trained serving module (torch.save of the module)
    checkpoints/       step_<N>.pt, the last K kept
    train.json         training's figures (seconds, samples, history)
    report.json        evaluate's validation report
    model.<p>.onnx     export's verified files (fp32, fp16, int8) and export.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

DEFAULT_ROOT = Path("runs/zoo")


@dataclass(frozen=True)
class ModelDir:
    root: Path
    profile: str
    archetype: str
    model_type: str

    @property
    def path(self) -> Path:
        return self.root / self.profile / self.archetype / self.model_type

    def file(self, name: str) -> Path:
        return self.path / name

    def save_data(self, data: dict[str, np.ndarray]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(self.file("data.npz"), **data)  # type: ignore[arg-type]

    def load_data(self) -> dict[str, np.ndarray] | None:
        if not self.file("data.npz").exists():
            return None
        with np.load(self.file("data.npz")) as found:
            return {k: found[k] for k in found.files}

    def save_module(self, module: nn.Module, name: str = "model.pt") -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        torch.save(module, self.file(name))

    def load_module(self, name: str = "model.pt") -> nn.Module:
        path = self.file(name)
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: run `python -m models.zoo train` for {self.archetype} "
                f"{self.model_type} (profile {self.profile}) first"
            )
        module: nn.Module = torch.load(path, weights_only=False)
        return module.eval()

    def write_json(self, name: str, value: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.file(name).write_text(json.dumps(value, indent=1, sort_keys=True, default=float))

    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.file(name)
        if not path.exists():
            return None
        found: dict[str, Any] = json.loads(path.read_text())
        return found


class Checkpointer:
    """Saves the module every `every` optimizer steps, keeping the last `keep` files."""

    def __init__(self, where: ModelDir, every: int, keep: int) -> None:
        self.dir = where.file("checkpoints")
        self.every = every
        self.keep = keep

    def step(self, step: int, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if not self.every or step % self.every:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"step": step, "model": module.state_dict(), "optimizer": optimizer.state_dict()},
            self.dir / f"step_{step:09d}.pt",
        )
        for old in sorted(self.dir.glob("step_*.pt"))[: -self.keep or None]:
            old.unlink()
