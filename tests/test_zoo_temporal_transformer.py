"""temporal_transformer: the history window and the two-second hp-loss target on hand-built
recordings, causal attention, and a tiny training that beats predicting the mean on held-out
fights."""

from __future__ import annotations

import numpy as np
import torch

from models.envs.contract_combat.world import STEP_MS
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.recording import Recording
from models.zoo.tasks.temporal_transformer import (
    HORIZON_STEPS,
    TASK,
    RelativeCausalAttention,
    TemporalTransformer,
    temporal_samples,
)
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import ENEMY_FEATURES, TEMPORAL_STEPS

#: Epochs of the tiny training test: fixed, so the result does not depend on the machine.
EPOCHS = 8


def hand_recording(T: int) -> Recording:
    """One fight lane, one aggressive monster alive throughout, one player; state t holds t in
    dim 1 (so a row says which steps it took) and the hp ratio in dim 0."""
    states = np.zeros((T, 1, 1, 64), np.float32)
    states[:, 0, 0, 1] = np.arange(T)
    states[:, 0, 0, 0] = 1.0
    return Recording(
        states=states,
        alive=np.ones((T, 1, 1), bool),
        arch=np.full((T, 1, 1), ARCHETYPES.index("aggressive")),
        max_hp=np.full((T, 1, 1), 1000.0, np.float32),
        episode=np.zeros((T, 1), np.int64),
        done=np.zeros((T, 1), bool),
        hp_after=np.ones((T, 1, 1), np.float32),
        player_damage=np.zeros((T, 1, 1, 1), np.float32),
        enemy=np.zeros((T, 1, 1, 1, len(ENEMY_FEATURES)), np.float32),
        visible=np.ones((T, 1, 1, 1), bool),
    )


def test_horizon_is_two_seconds_of_steps() -> None:
    assert HORIZON_STEPS == round(2000 / STEP_MS) == 7


def test_history_is_oldest_first_and_repeats_the_fights_first_state() -> None:
    rec = hand_recording(20)
    data = temporal_samples(rec, "aggressive")
    steps = data["inputs"].reshape(-1, TEMPORAL_STEPS, 64)[..., 1]
    assert len(steps) == 20 - HORIZON_STEPS + 1
    assert steps[0].tolist() == [0.0] * TEMPORAL_STEPS
    assert steps[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    assert steps[10].tolist() == list(range(3, 11))
    # A new fight in the lane starts its own history.
    rec.episode[12:, 0] = 1
    rec.done[11, 0] = True
    steps = temporal_samples(rec, "aggressive")["inputs"].reshape(-1, TEMPORAL_STEPS, 64)[..., 1]
    assert [12.0] * TEMPORAL_STEPS in steps.tolist()
    assert [6, 7, 8, 9, 10, 11, 11, 11] not in steps.tolist()


def test_target_is_the_hp_share_lost_over_the_horizon() -> None:
    T = 30
    rec = hand_recording(T)
    ratio = np.clip(1.0 - 0.02 * np.arange(T + 1), 0, 1).astype(np.float32)  # 2% a step
    rec.states[:, 0, 0, 0] = ratio[:T]
    rec.hp_after[:, 0, 0] = ratio[1:]
    data = temporal_samples(rec, "aggressive")
    assert np.allclose(data["target"][0], 0.02 * HORIZON_STEPS)
    # Healed above where it started: nothing lost, not a negative loss.
    rec.hp_after[:, 0, 0] = 1.0
    rec.states[:, 0, 0, 0] = 0.9
    assert np.allclose(temporal_samples(rec, "aggressive")["target"], 0.0)
    # Dies in step 10: every window holding step 10 lost all it had; the fight ends there, so
    # windows up to step 10 are known and later ones belong to the next fight.
    rec = hand_recording(T)
    rec.states[:, 0, 0, 0] = 0.5
    rec.hp_after[10:, 0, 0] = 0.0
    rec.done[10, 0] = True
    rec.episode[11:, 0] = 1
    rec.alive[11:, 0, 0] = True
    rec.states[11:, 0, 0, 0] = 1.0
    rec.hp_after[11:, 0, 0] = 1.0
    data = temporal_samples(rec, "aggressive")
    first = data["inputs"].reshape(-1, TEMPORAL_STEPS, 64)[:, -1, 1].astype(int)
    lost = dict(zip(first.tolist(), data["target"].tolist(), strict=True))
    assert all(lost[t] == 0.5 for t in range(4, 11))
    assert all(lost[t] == 0.0 for t in range(0, 4))
    assert all(lost[t] == 0.0 for t in range(11, T - HORIZON_STEPS + 1))


def test_attention_is_causal() -> None:
    attention = RelativeCausalAttention(16, 4, TEMPORAL_STEPS).eval()
    x = torch.randn(3, TEMPORAL_STEPS, 16)
    changed = x.clone()
    changed[:, -1] += 1.0
    with torch.no_grad():
        a, b = attention(x), attention(changed)
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6)
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_model_reads_every_state() -> None:
    net = TemporalTransformer(1, 16, 2, 32).eval()
    x = torch.randn(2, TEMPORAL_STEPS * 64)
    changed = x.clone()
    changed[:, :64] += 1.0  # the oldest state
    with torch.no_grad():
        assert net(x).shape == (2, 1)
        assert not torch.allclose(net(x), net(changed))


def test_example_inputs_are_recorded_rows() -> None:
    rows = TASK.example_inputs("tank", 64, seed=4)
    assert rows.shape == (64, TEMPORAL_STEPS * 64)
    assert rows.dtype == np.float32
    newest = rows.reshape(64, TEMPORAL_STEPS, 64)[:, -1]
    assert np.allclose(newest[:, 8], ARCHETYPES.index("tank") / 5)


def test_tiny_training_beats_the_mean_on_heldout_fights() -> None:
    torch.set_num_threads(1)
    # A fixed number of epochs, whatever the machine's speed (the tiny profile's 4 s would vary).
    settings = ZooSettings(profile="tiny", seed=0, epochs=EPOCHS, time_budget_s=600.0)
    data = TASK.collect("aggressive", settings)
    trained = TASK.train("aggressive", settings, data, None, NoCheckpoints())
    evaluation = TASK.evaluate("aggressive", trained.module, settings)
    # Predicting the training mean scores an explained variance of about 0.
    assert evaluation.explained_variance is not None
    assert evaluation.explained_variance > 0.03
    assert evaluation.heldout["mae"] < float(np.abs(data["target"] - data["target"].mean()).mean())
