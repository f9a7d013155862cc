"""threat_assessment: the replayed damage is what the monsters lose, the target is the enemy's
next three seconds of damage to the pack, the outputs are the ensemble's mean and spread, and a
tiny training beats predicting the mean on held-out fights."""

from __future__ import annotations

import numpy as np
import torch

from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.units import POISON
from models.envs.pack_combat.rules import PRIEST
from models.zoo.base import NoCheckpoints, ZooSettings, run_module
from models.zoo.tasks.recording import (
    FEATURE,
    Recording,
    enemy_features,
    replay_player_damage,
)
from models.zoo.tasks.threat_assessment import (
    TASK,
    THREAT_STEPS,
    ThreatEnsemble,
    threat_samples,
)
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import ENEMY_FEATURES

#: Epochs of the tiny training test: fixed, so the result does not depend on the machine.
EPOCHS = 8


def hand_recording(T: int, E: int = 1, N: int = 1, M: int = 1) -> Recording:
    """A recording of T steps where every monster is an aggressive one, alive, seeing every
    player; the tests fill in what they check."""
    return Recording(
        states=np.zeros((T, E, N, 64), np.float32),
        alive=np.ones((T, E, N), bool),
        arch=np.full((T, E, N), ARCHETYPES.index("aggressive")),
        max_hp=np.full((T, E, N), 1000.0, np.float32),
        episode=np.zeros((T, E), np.int64),
        done=np.zeros((T, E), bool),
        hp_after=np.ones((T, E, N), np.float32),
        player_damage=np.zeros((T, E, M, N), np.float32),
        enemy=np.zeros((T, E, N, M, len(ENEMY_FEATURES)), np.float32),
        visible=np.ones((T, E, N, M), bool),
    )


def test_replayed_damage_is_what_the_monsters_lose() -> None:
    env = ContractCombatEnv(32, seed=3)
    env.reset()
    checked = 0
    for _ in range(60):
        m = env.monsters
        before, alive, poisoned = m.hp.copy(), m.alive.copy(), m.status[..., POISON] > 0
        dealt = replay_player_damage(env)
        # IDLE monsters neither heal nor bless: their hp moves by the players' damage alone
        # (poison ticks after the hits, so poisoned ones are left out).
        _, result = env.step(np.zeros((32, 5), np.int64))
        after = env.monsters.hp
        ok = alive & ~poisoned & env.monsters.alive & ~result.done[:, None]
        assert np.allclose((before - after)[ok], dealt.sum(1)[ok], rtol=1e-9, atol=1e-6)
        checked += int((ok & (dealt.sum(1) > 0)).sum())
    assert checked > 100


def test_enemy_features_are_in_range_and_say_who_targets_whom() -> None:
    env = ContractCombatEnv(16, seed=1)
    env.reset()
    for _ in range(30):
        env.step(np.ones((16, 5), np.int64))  # everyone attacks: fights are on
    features, visible = enemy_features(env, np.zeros((16, 4)))
    assert visible.any()
    assert features.min() >= 0.0
    assert features.max() <= 1.0
    assert not features[~visible].any()
    targets = env.players.target[:, None, :] == np.arange(5)[None, :, None]
    flag = features[..., FEATURE["targets_this_monster"]] == 1
    assert np.array_equal(flag, targets & visible)
    healer = features[..., FEATURE["is_healer"]] == 1
    assert np.array_equal(healer, (env.players.units.cls == PRIEST)[:, None, :] & visible)


def test_target_is_the_damage_to_the_pack_over_the_next_steps_of_the_fight() -> None:
    T = THREAT_STEPS + 6
    rec = hand_recording(T, N=2)
    rec.player_damage[:, 0, 0, 0] = 10.0  # the player hits monster 0 every step ...
    rec.player_damage[:, 0, 0, 1] = 5.0  # ... and monster 1
    # The fight ends with step 4; a new one starts at step 5.
    rec.done[4, 0] = True
    rec.episode[5:, 0] = 1
    rec.arch[:, :, 1] = ARCHETYPES.index("tank")
    data = threat_samples(rec, "aggressive")
    # Known futures: steps 0-4 (their fight ends within the window) and 5..T-THREAT_STEPS.
    expected = [15.0 * (5 - t) / 1000 for t in range(5)]
    expected += [15.0 * THREAT_STEPS / 1000] * (T - THREAT_STEPS - 5 + 1)
    assert np.allclose(data["target"], expected)
    assert data["inputs"].shape == (len(expected), 72)


def test_outputs_are_the_members_mean_and_spread() -> None:
    net = ThreatEnsemble(4, (8,)).eval()
    x = torch.rand(16, 72)
    each = net.member_outputs(x).detach().numpy()
    out = run_module(net, x.numpy())
    assert np.allclose(out[:, 0], each.mean(1), atol=1e-6)
    assert np.allclose(out[:, 1], each.std(1), atol=1e-6)
    assert (out[:, 1] > 0).all()


def test_example_inputs_are_recorded_rows() -> None:
    rows = TASK.example_inputs("mage", 64, seed=2)
    assert rows.shape == (64, 72)
    assert rows.dtype == np.float32
    assert np.allclose(rows[:, 8], ARCHETYPES.index("mage") / 5)  # dim 8: the archetype
    assert len(np.unique(rows, axis=0)) == 64


def test_tiny_training_beats_the_mean_on_heldout_fights() -> None:
    torch.set_num_threads(1)
    # A fixed number of epochs, whatever the machine's speed (the tiny profile's 4 s would vary).
    settings = ZooSettings(profile="tiny", seed=0, epochs=EPOCHS, time_budget_s=600.0)
    data = TASK.collect("aggressive", settings)
    trained = TASK.train("aggressive", settings, data, None, NoCheckpoints())
    evaluation = TASK.evaluate("aggressive", trained.module, settings)
    # Predicting the training mean scores an explained variance of about 0 (at most a little).
    assert evaluation.explained_variance is not None
    assert evaluation.explained_variance > 0.4
    assert evaluation.heldout["spread_error_corr"] > 0.0
