"""pattern_recognition: a transformer that recognizes the adventurers' tactic (TACTICS: melee_rush,
kiting, healer_backed, focus_fire) from a fight's last PATTERN_STEPS steps.

- Data: contract fights with the traditional AI on the monsters' side and parties playing one
  tactic each (tactics.py), recorded as FEATURES per step: what the monsters' side observes of
  the party (positions, hits, heals, hp bars; the game server knows all of it). A sample is the
  16 steps ending at some step of a fight (steps before the fight's start are zeros), oldest
  first, flattened step-major; the label is the party's tactic.
- Training: contrastive pre-training (InfoNCE between two augmentations of each sequence: a crop
  of its older steps, per-feature scale jitter, noise) of the encoder and a projection head for
  PRETRAIN_SHARE of the budget, then supervised fine-tuning of the encoder and the classifier on
  the labels. (At the small profile, on the same windows, the pre-training neither helps nor
  hurts measurably: 0.90 held-out accuracy with and without it on one archetype; it is there
  for unlabeled sequences, which the database has far more of than labeled ones.)
- Outputs: the 4 tactic probabilities (softmax); answer: the argmax. A game server (or the
  monsters' models) adapts to it: against kiting close in or break line, against a healer-backed
  party go for the healer, against focus fire spread out, against a melee rush kite back.
- Metrics on windows of held-out fights (another seed): accuracy (bar 0.8: four balanced classes
  make chance 0.25, and the tactics differ in what the window shows, so a useful recognizer gets
  most of them; the first steps of a fight, the approach, look alike for every tactic, which is
  why the bar is not higher) and macro F1 (bar 0.8). Nothing acts, so no reward term of
  config/zoo.py applies; the archetype only decides which monsters the fights centre on (the
  pack's archetypes are drawn as usual; the recorder draws its seeds per archetype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from models.envs.contract_combat.env import HAZARD_SHARE, ContractCombatEnv
from models.envs.contract_combat.units import MAX_PLAYERS
from models.envs.contract_combat.world import AREA_SIZE
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.combat import Intents, chebyshev, gather
from models.zoo.base import Checkpoints, Evaluation, Trained, ZooSettings, run_module
from models.zoo.tasks.spatial_vit import Encoder, EncoderModel
from models.zoo.tasks.tactics import HEALER_BACKED, playing, traditional_step
from models.zoo.trainers.supervised import fit
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import PATTERN_FEATURES, PATTERN_STEPS, TACTICS

F64 = NDArray[np.float64]

#: The 12 features of a step, in order (all about the living players, scaled to about [0, 1]).
FEATURES = (
    "alive_players",  # living players / 4
    "mean_distance",  # mean distance of a player to its nearest monster / AREA_SIZE
    "min_distance",  # the closest player's distance / AREA_SIZE
    "approach",  # change of mean_distance since the previous step, in cells / 2 (< 0: closing)
    "attack_share",  # share of the players that struck a monster this step
    "attack_distance",  # mean distance of those strikes / 7
    "focus",  # share of the strikes that landed on the most struck monster (0: none)
    "damage",  # damage the party dealt the pack this step / the pack's max hp x 10
    "healing",  # hp the party healed this step / the party's max hp x 10
    "party_hp",  # the party's hp / its max hp
    "spread",  # mean distance of a player to the party's centre / 7
    "retreat_share",  # share of the players walking away from their nearest monster
)
assert len(FEATURES) == PATTERN_FEATURES
APPROACH = FEATURES.index("approach")
#: Scales of the per-step amounts (a fight lasts tens of steps).
AMOUNT_SCALE = 10.0
RANGE_SCALE = 7.0
#: Fights recorded side by side, per tactic.
RECORD_ENVS = 48
#: A sample ends at a fight's last step and every WINDOW_EVERY-th step before, from FIRST_END.
FIRST_END, WINDOW_EVERY = 6, 3
#: Held-out windows per tactic that `evaluate` measures.
EVAL_PER_TACTIC = 300
ACCURACY_BAR, F1_BAR = 0.8, 0.8
#: Share of the training budget spent on contrastive pre-training.
PRETRAIN_SHARE = 0.25
TEMPERATURE = 0.2

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"width": 32, "depth": 1, "heads": 2},
    "small": {"width": 64, "depth": 2, "heads": 4},
    "full": {"width": 512, "depth": 6, "heads": 16},
}


def step_features(before: dict[str, np.ndarray], intents: Intents) -> F64:
    """(E, 12) the features of one step but `approach` (filled per fight, see `windows`), from the
    state at the step's start (`snapshot`) and the party's intents."""
    alive, m_alive = before["alive"], before["m_alive"]
    n_alive = np.maximum(alive.sum(1), 1)
    d = np.where(m_alive[:, None, :], chebyshev(before["pos"], before["m_pos"]), np.inf)
    d_near = np.where(alive & np.asarray(m_alive.any(1))[:, None], d.min(2), 0.0)
    nearest = d.argmin(2)
    f = np.zeros((len(alive), PATTERN_FEATURES))
    f[:, 0] = alive.sum(1) / MAX_PLAYERS
    f[:, 1] = (d_near * alive).sum(1) / n_alive / AREA_SIZE
    f[:, 2] = np.where(alive, d_near, np.inf).min(1, initial=np.inf)
    f[:, 2] = np.where(np.isfinite(f[:, 2]), f[:, 2], 0.0) / AREA_SIZE
    hit = intents.attacking & alive
    n_hit = hit.sum(1)
    f[:, 4] = n_hit / n_alive
    d_hit = np.take_along_axis(d, np.maximum(intents.attack, 0)[..., None], 2)[..., 0]
    f[:, 5] = np.where(hit, d_hit, 0.0).sum(1) / np.maximum(n_hit, 1) / RANGE_SCALE
    per_monster = (hit[..., None] & (intents.attack[..., None] == np.arange(m_alive.shape[1]))).sum(
        1
    )
    f[:, 6] = per_monster.max(1) / np.maximum(n_hit, 1)
    power = before["atk"] * np.where(before["cls"] == R.WIZARD, HAZARD_SHARE, 1.0)
    dealt = np.where(hit, power * (1 - gather(before["m_armor"], intents.attack)), 0.0).sum(1)
    f[:, 7] = AMOUNT_SCALE * dealt / np.maximum(before["m_max_hp"].sum(1), 1e-9)
    party_max = np.maximum((before["max_hp"] * before["present"]).sum(1), 1e-9)
    healed = np.where(intents.healing & alive, before["heal"], 0.0).sum(1)
    f[:, 8] = AMOUNT_SCALE * healed / party_max
    f[:, 9] = (before["hp"] * alive).sum(1) / party_max
    centre = (before["pos"] * alive[..., None]).sum(1) / n_alive[:, None]
    gap = np.abs(before["pos"] - centre[:, None, :]).max(-1)
    f[:, 10] = (gap * alive).sum(1) / n_alive / RANGE_SCALE
    near_pos = np.take_along_axis(before["m_pos"], nearest[..., None].repeat(2, -1), 1)
    walking_off = np.abs(intents.goal - near_pos).max(-1) > np.abs(before["pos"] - near_pos).max(-1)
    f[:, 11] = (intents.moving & alive & walking_off).sum(1) / n_alive
    return f


def snapshot(env: ContractCombatEnv) -> dict[str, np.ndarray]:
    """Copies of what step_features reads (the step writes some arrays in place)."""
    u, m = env.players.units, env.monsters
    return {
        "alive": u.alive.copy(),
        "present": u.present.copy(),
        "pos": u.pos.copy(),
        "hp": u.hp.copy(),
        "max_hp": u.max_hp.copy(),
        "atk": u.atk.copy(),
        "heal": u.heal.copy(),
        "cls": u.cls.copy(),
        "m_alive": m.alive.copy(),
        "m_pos": m.pos.copy(),
        "m_armor": m.armor.copy(),
        "m_max_hp": (m.max_hp * m.present).copy(),
    }


def record_fights(tactic: int, fights: int, seed: int) -> list[F64]:
    """Per finished fight, its (steps, 12) features, the party playing `tactic`."""
    scenario = "healer_party" if tactic == HEALER_BACKED else "standard"
    env = ContractCombatEnv(RECORD_ENVS, seed=seed, scenario=scenario)
    rng = np.random.default_rng(seed)
    obs = env.reset()
    plan = np.full(RECORD_ENVS, tactic, np.int64)
    running: list[list[F64]] = [[] for _ in range(RECORD_ENVS)]
    done_fights: list[F64] = []
    while len(done_fights) < fights:
        before = snapshot(env)
        seen: list[Intents] = []
        with playing(env, plan, seen):
            obs, result = env.step(traditional_step(env, obs, rng))
        rows = step_features(before, seen[-1])
        for e in range(RECORD_ENVS):
            running[e].append(rows[e])
            if result.done[e]:
                done_fights.append(np.stack(running[e]))
                running[e] = []
    return done_fights[:fights]


def windows(fight: F64) -> F64:
    """(k, 16, 12) the samples of one fight: the 16 steps ending at its last step, WINDOW_EVERY
    steps before, ..., down to FIRST_END, zero-padded before the fight's first step; `approach`
    filled in."""
    seq = fight.copy()
    seq[1:, APPROACH] = (seq[1:, 1] - seq[:-1, 1]) * AREA_SIZE / 2.0
    seq[0, APPROACH] = 0.0
    padded = np.concatenate([np.zeros((PATTERN_STEPS, PATTERN_FEATURES)), seq])
    ends = np.arange(len(seq), min(FIRST_END, len(seq)) - 1, -WINDOW_EVERY)[::-1]
    return np.stack([padded[e : e + PATTERN_STEPS] for e in ends])


def record_windows(archetype: str, per_tactic: int, seed: int) -> dict[str, np.ndarray]:
    """per_tactic samples of each tactic (x: (n, 192) float32, y: tactic ids), from whole fights
    (every fight's windows or none: held-out seeds give held-out fights)."""
    base = seed * 101 + ARCHETYPES.index(archetype) * 7
    xs, ys = [], []
    for tactic in range(len(TACTICS)):
        got: list[F64] = []
        round_ = 0
        while sum(len(w) for w in got) < per_tactic:
            fights = record_fights(tactic, RECORD_ENVS, base + 1000 * tactic + round_)
            got.extend(windows(f) for f in fights)
            round_ += 1
        x = np.concatenate(got)
        pick = np.random.default_rng(base + tactic).choice(len(x), per_tactic, replace=False)
        xs.append(x[pick].reshape(per_tactic, -1))
        ys.append(np.full(per_tactic, tactic, np.int64))
    return {"x": np.concatenate(xs).astype(np.float32), "y": np.concatenate(ys)}


class TacticTransformer(EncoderModel):
    """(B, 16 * 12) sequences -> (B, 4) tactic probabilities."""

    def __init__(self, width: int, depth: int, heads: int) -> None:
        super().__init__()
        self.embed_step = nn.Linear(PATTERN_FEATURES, width)
        self.position = nn.Parameter(torch.randn(1, PATTERN_STEPS, width) * 0.02)
        self.encoder = Encoder(width, depth, heads)
        self.classifier = nn.Linear(width, len(TACTICS))

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        steps = inputs.reshape(inputs.shape[0], PATTERN_STEPS, PATTERN_FEATURES)
        out: torch.Tensor = self.encoder(self.embed_step(steps) + self.position).mean(1)
        return out

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.embed(inputs))
        return out

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(inputs), dim=-1)


class Contrastive(nn.Module):
    """The model's encoder with a projection head, for InfoNCE pre-training."""

    def __init__(self, model: TacticTransformer, width: int) -> None:
        super().__init__()
        self.model = model
        self.projector = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = F.normalize(self.projector(self.model.embed(inputs)), dim=-1)
        return out


def augment(x: torch.Tensor) -> torch.Tensor:
    """One random view of (B, 192) sequences: the older steps cropped away (zeroed, as before a
    fight's start) leaving the last 10-16, each feature scaled by 1 +- 10%, small noise."""
    b = x.shape[0]
    seq = x.reshape(b, PATTERN_STEPS, PATTERN_FEATURES)
    keep = torch.randint(10, PATTERN_STEPS + 1, (b, 1), device=x.device)
    age = torch.arange(PATTERN_STEPS - 1, -1, -1, device=x.device)[None, :]
    seq = seq * (age < keep).unsqueeze(-1)
    seq = seq * (1 + 0.1 * torch.randn(b, 1, PATTERN_FEATURES, device=x.device))
    seq = seq + 0.02 * torch.randn_like(seq)
    return seq.reshape(b, -1)


def info_nce(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """NT-Xent: each view's positive is the other view of its sequence, the rest are negatives."""
    x = batch["x"]
    z = net(torch.cat([augment(x), augment(x)]))
    sim = z @ z.T / TEMPERATURE
    n = x.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=x.device), -1e9)
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(x.device)
    return F.cross_entropy(sim, positive)


@dataclass(frozen=True)
class PhaseSettings(ZooSettings):
    """A run's settings with a share of its training budget (one of the two phases)."""

    share: float = 1.0

    @property
    def budget_s(self) -> float:
        return super().budget_s * self.share


def macro_f1(predicted: np.ndarray, truth: np.ndarray, classes: int) -> float:
    scores = []
    for c in range(classes):
        tp = float(((predicted == c) & (truth == c)).sum())
        fp = float(((predicted == c) & (truth != c)).sum())
        fn = float(((predicted != c) & (truth == c)).sum())
        scores.append(2 * tp / max(2 * tp + fp + fn, 1.0))
    return float(np.mean(scores))


class PatternRecognitionTask:
    model_type = "pattern_recognition"

    def build(self, archetype: str, profile: str) -> nn.Module:
        return TacticTransformer(**SIZES[profile])

    def collect(self, archetype: str, settings: ZooSettings) -> dict[str, np.ndarray]:
        total = settings.pick(
            settings.samples_per_archetype, {"tiny": 800, "small": 6000, "full": 100_000}
        )
        return record_windows(archetype, total // len(TACTICS), settings.seed)

    def train(
        self,
        archetype: str,
        settings: ZooSettings,
        data: dict[str, np.ndarray],
        init: nn.Module | None,
        checkpoints: Checkpoints,
    ) -> Trained:
        size = SIZES[settings.profile]
        model = init if isinstance(init, TacticTransformer) else TacticTransformer(**size)
        width = model.classifier.in_features
        batch = settings.pick(settings.batch_size, {"tiny": 64, "small": 128, "full": 256})
        lr = settings.pick(settings.lr, {"tiny": 2e-3, "small": 1e-3, "full": 3e-4})
        epochs = settings.pick(settings.epochs, {"tiny": 30, "small": 100, "full": 100})
        fields = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
        pre = fit(
            Contrastive(model, width),
            info_nce,
            {"x": data["x"]},
            PhaseSettings(**fields, share=PRETRAIN_SHARE),
            epochs=epochs,
            batch_size=batch,
            lr=lr,
            checkpoints=checkpoints,
            label=f"pattern_recognition/{archetype} pre-training",
        )

        def cross_entropy(net: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
            assert isinstance(net, TacticTransformer)
            return F.cross_entropy(net.logits(b["x"]), b["y"])

        tuned = fit(
            model,
            cross_entropy,
            data,
            PhaseSettings(**fields, share=1.0 - PRETRAIN_SHARE),
            epochs=epochs,
            batch_size=batch,
            lr=lr,
            checkpoints=checkpoints,
            label=f"pattern_recognition/{archetype} fine-tuning",
            weight_decay=0.01,
        )
        notes: dict[str, Any] = {
            "pretrain_epochs": pre.epochs,
            "pretrain_best_val_infonce": pre.best_val,
            "finetune_epochs": tuned.epochs,
            "finetune_best_val_ce": tuned.best_val,
        }
        history = {f"pretrain_{k}": v for k, v in pre.history.items()}
        history.update(tuned.history)
        return Trained(
            model,
            history=history,
            samples=pre.samples + tuned.samples,
            seconds=pre.seconds + tuned.seconds,
            notes=notes,
        )

    def evaluate(self, archetype: str, module: nn.Module, settings: ZooSettings) -> Evaluation:
        per = settings.pick(None, {"tiny": 100, "small": EVAL_PER_TACTIC, "full": EVAL_PER_TACTIC})
        held = record_windows(archetype, per, settings.seed + 10_000)
        return measure(module, held["x"], held["y"])

    def example_inputs(self, archetype: str, n: int, seed: int) -> np.ndarray:
        per = -(-n // len(TACTICS))
        x: np.ndarray = record_windows(archetype, per, seed)["x"]
        return x[np.random.default_rng(seed).permutation(len(x))[:n]]


def measure(module: nn.Module, x: np.ndarray, y: np.ndarray) -> Evaluation:
    probs = run_module(module, x)
    predicted = probs.argmax(1)
    heldout = {
        "accuracy": float((predicted == y).mean()),
        "macro_f1": macro_f1(predicted, y, len(TACTICS)),
    }
    for c, name in enumerate(TACTICS):
        heldout[f"recall_{name}"] = float((predicted[y == c] == c).mean())
    return Evaluation(
        episodes=len(x),
        action_count=len(TACTICS),
        heldout=heldout,
        heldout_bars={"accuracy": (">", ACCURACY_BAR), "macro_f1": (">", F1_BAR)},
    )


TASK = PatternRecognitionTask()
