"""The seed's import path of the trainer (`from models.ctde_trainer import CTDETrainer`): the
trainer lives in models/training/ctde_trainer.py."""

from models.training.ctde_trainer import CTDETrainer

__all__ = ["CTDETrainer"]
