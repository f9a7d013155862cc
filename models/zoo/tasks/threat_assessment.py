"""threat_assessment: how much harm one visible enemy is about to do to the monster's pack, with
the ensemble's disagreement as the uncertainty of that guess.

Input (72 floats): the monster's 64 contract floats, then one visible enemy's ENEMY_FEATURES
(recording.enemy_features defines each from what the simulator's players have, all in [0, 1]).
Target: the damage that enemy deals to the monster's pack over the next THREAT_STEPS steps (three
seconds of game time) of the same fight, in units of the monster's own max hp (0.5: half of what
the monster can take; the party is scaled to the pack, so 99% of rows are under 2).
Outputs: column 0 the ensemble's mean, column 1 the ensemble's spread (standard deviation over
the members). A game server ranks the enemies in view by column 0 to pick whom to attack or flee
from, and can fall back on its own rule where column 1 is large; other models may read it as a
feature. Data: fights of the traditional AI with random actions (recording.record_fights), rows
of the monsters of the archetype; each member learns from its own bootstrap resample (Poisson
weights), so the spread reflects how far the data pins a prediction down.

Held-out metrics, on fights recorded with another seed: explained variance of the mean (bar 0.8),
mean absolute error, and `spread_error_corr`, the correlation between the spread and the mean's
absolute error (bar: above 0, a spread that says nothing about the error scores about 0).
No reward terms of config/zoo.py apply: this is supervised on what the enemies do.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from models.zoo.base import (
    Checkpoints,
    Evaluation,
    Trained,
    ZooSettings,
    explained_variance,
    run_module,
)
from models.zoo.tasks.recording import (
    RECENT_STEPS,
    Recording,
    capped_samples,
    fights_in,
    record_fights,
    same_fight_ahead,
)
from models.zoo.trainers.supervised import fit_task
from plpython.zoo_types import ENEMY_FEATURES, STATE_DIM

F32 = NDArray[np.float32]

#: Steps ahead whose damage counts (the same three seconds as the recent-damage feature).
THREAT_STEPS = RECENT_STEPS
INPUT_DIM = STATE_DIM + len(ENEMY_FEATURES)
#: (members, hidden widths) per profile; "full" is the seed's ensemble size.
SIZES: dict[str, tuple[int, tuple[int, ...]]] = {
    "tiny": (3, (32,)),
    "small": (4, (96, 64)),
    "full": (5, (256, 256, 128)),
}
#: Fight lanes recorded (each plays about two fights in RECORD_STEPS steps).
LANES = {"tiny": 64, "small": 1024, "full": 4096}
EVAL_LANES = {"tiny": 48, "small": 256, "full": 1024}
RECORD_STEPS = 100
EPOCHS = {"tiny": 40, "small": 200, "full": 200}
BATCH = {"tiny": 128, "small": 256, "full": 256}
LR = {"tiny": 3e-3, "small": 1.5e-3, "full": 1e-3}
#: Held-out fights use seeds this far from the training seed.
HELDOUT_SEED_OFFSET = 1_000_003


class ThreatEnsemble(nn.Module):
    """`members` MLPs over (monster, enemy) rows; outputs (B, 2): their mean and spread."""

    def __init__(self, members: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.members = nn.ModuleList(_mlp(INPUT_DIM, hidden) for _ in range(members))

    def member_outputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, members) each member's prediction."""
        return torch.cat([member(inputs) for member in self.members], dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        each = self.member_outputs(inputs)
        mean = each.mean(dim=1, keepdim=True)
        spread = (each - mean).pow(2).mean(dim=1, keepdim=True).sqrt()
        return torch.cat([mean, spread], dim=1)


def _mlp(width: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def threat_samples(rec: Recording, archetype: str) -> dict[str, F32]:
    """Rows of every visible (monster of `archetype`, player) pair whose next THREAT_STEPS steps
    were recorded: `inputs` (S, 72) and `target` (S,), the player's damage to the whole pack over
    those steps of the fight, / the monster's max hp."""
    inside, known = same_fight_ahead(rec, THREAT_STEPS)
    T = rec.steps
    to_pack = rec.player_damage.sum(3)  # (T, E, M)
    ahead = np.zeros_like(to_pack)
    for k in range(THREAT_STEPS):
        ahead[: T - k] += to_pack[k:] * inside[: T - k, k, :, None]
    pick = rec.visible & rec.of_archetype(archetype)[..., None] & known[:, :, None, None]
    t, e, n, m = np.nonzero(pick)
    inputs = np.concatenate([rec.states[t, e, n], rec.enemy[t, e, n, m]], axis=1)
    target = ahead[t, e, m] / np.maximum(rec.max_hp[t, e, n], 1e-9)
    return {"inputs": inputs.astype(np.float32), "target": target.astype(np.float32)}


def _record(archetype: str, lanes: int, seed: int) -> dict[str, F32]:
    return threat_samples(record_fights(lanes, RECORD_STEPS, seed), archetype)


def _loss(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    assert isinstance(net, ThreatEnsemble)
    each = net.member_outputs(batch["inputs"])
    err = (each - batch["target"][:, None]).pow(2) * batch["weights"]
    return err.sum() / batch["weights"].sum().clamp(min=1.0)


class ThreatAssessmentTask:
    model_type = "threat_assessment"

    def build(self, archetype: str, profile: str) -> nn.Module:
        members, hidden = SIZES[profile]
        return ThreatEnsemble(members, hidden)

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        lanes = settings.pick(settings.num_episodes, LANES)
        data = _record(archetype, lanes, settings.seed)
        return capped_samples(dict(data), settings.samples_per_archetype, settings.seed)

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        net = init if init is not None else self.build(archetype, settings.profile)
        assert isinstance(net, ThreatEnsemble)
        # Each member sees its own bootstrap resample: Poisson(1) weights per row.
        rng = np.random.default_rng(settings.seed + 7)
        weights = rng.poisson(1.0, (len(data["target"]), len(net.members))).astype(np.float32)
        return fit_task(
            net,
            _loss,
            {"inputs": data["inputs"], "target": data["target"], "weights": weights},
            settings,
            epochs=EPOCHS,
            batch_size=BATCH,
            lr=LR,
            checkpoints=checkpoints,
            label=f"threat_assessment/{archetype}",
            patience=8,
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        rec = record_fights(
            EVAL_LANES[settings.profile], RECORD_STEPS, settings.seed + HELDOUT_SEED_OFFSET
        )
        data = threat_samples(rec, archetype)
        evaluation = threat_evaluation(run_module(module, data["inputs"]), data["target"])
        evaluation.episodes = fights_in(rec)
        return evaluation

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        lanes = 32
        while True:
            inputs = _record(archetype, lanes, seed)["inputs"]
            if len(inputs) >= n:
                picked = np.random.default_rng(seed).choice(len(inputs), n, replace=False)
                return inputs[np.sort(picked)]
            lanes *= 2


def threat_evaluation(outputs: np.ndarray, target: np.ndarray) -> Evaluation:
    """The held-out figures of (S, 2) outputs against (S,) targets."""
    mean, spread = outputs[:, 0], outputs[:, 1]
    error = np.abs(mean - target)
    calibration = float(np.corrcoef(spread, error)[0, 1]) if spread.std() > 0 else 0.0
    ev = explained_variance(mean, target)
    return Evaluation(
        explained_variance=ev,
        heldout={
            "explained_variance": ev,
            "mae": float(error.mean()),
            "spread_error_corr": calibration,
        },
        heldout_bars={"explained_variance": (">", 0.8), "spread_error_corr": (">", 0.0)},
    )


TASK = ThreatAssessmentTask()
