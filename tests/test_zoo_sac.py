"""sac: continuous movement vectors on hand-built fights (scaled to the walk step, binned into the
9 moves, the ranged band's reward), and a tiny SAC run that beats a random mover."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from config.zoo import archetype_training
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.movement_env import (
    DIRECTION_VECTORS,
    WARM_START_DEMOS,
    direction_of,
    duel,
    nearest_direction,
    traditional_moves,
)
from models.zoo.tasks.sac import TASK
from plpython.zoo_types import DIRECTIONS

FIGHTS = 48


def vector(dx: float, dy: float) -> np.ndarray:
    local = np.zeros((1, 5, 2))
    local[0, 0] = (dx, dy)
    return local


def test_vectors_bin_into_the_nine_moves() -> None:
    vectors = np.array([[0.0, 1.0], [0.9, 0.8], [0.6, -0.2], [0.3, -0.4], [-0.7, -0.9], [0.0, 0.0]])
    names = [DIRECTIONS[k] for k in direction_of(vectors)]
    assert names == ["N", "NE", "E", "stay", "SW", "stay"]


def test_a_vector_is_scaled_to_the_walk_step() -> None:
    # Half speed toward the target: 2 of a 3-cell walker's cells (round(1.5) = 2) ...
    env = duel("aggressive", monster=(5, 5), player=(5, 15), walk_cells=3)
    env.step(vector(0.0, 0.5))
    assert env.env.monsters.pos[0, 0].tolist() == [5.0, 7.0]
    # ... none of a 1-cell walker's: it stays.
    env = duel("aggressive", monster=(5, 5), player=(5, 15), walk_cells=1)
    env.step(vector(0.0, 0.4))
    assert env.env.monsters.pos[0, 0].tolist() == [5.0, 5.0]
    # Full right turn: the right of a monster facing +y is +x.
    env = duel("aggressive", monster=(5, 5), player=(5, 15), walk_cells=2)
    env.step(vector(1.0, 0.0))
    assert env.env.monsters.pos[0, 0].tolist() == [7.0, 5.0]


def test_ranged_monsters_are_paid_for_keeping_their_distance_band() -> None:
    # Backing away from a knight that does not hit back: nothing dealt or taken, so the reward
    # is the band's bonus alone (config/zoo.py: 15 per step within 7-12 cells of its target) ...
    band = archetype_training("ranged").reward_weights["optimal_distance_bonus"]
    inside = duel("ranged", monster=(5, 5), player=(5, 14))
    assert inside.step(vector(0.0, -1.0)).reward[0, 0] == pytest.approx(band)
    # ... and nothing 4-5 cells from it.
    outside = duel("ranged", monster=(5, 5), player=(5, 9))
    assert outside.step(vector(0.0, -1.0)).reward[0, 0] == pytest.approx(0.0)


def test_serving_outputs_are_a_vector_in_the_unit_square() -> None:
    module = TASK.build("ranged", "tiny").eval()
    states = TASK.example_inputs("ranged", 32, seed=1)
    with torch.no_grad():
        out = module(torch.as_tensor(states)).numpy()
    assert out.shape == (32, 2)
    assert (np.abs(out) <= 1.0).all()


def test_tiny_training_learns_the_traditional_walk_and_runs_sac() -> None:
    archetype = "aggressive"
    settings = ZooSettings(profile="tiny", seed=0, num_episodes=FIGHTS)
    trained = TASK.train(archetype, settings, {}, None, NoCheckpoints())
    # The warm start reproduces the traditional AI's walking better than its mean move does ...
    _, walked = traditional_moves(archetype, WARM_START_DEMOS["tiny"], settings.seed + 1, 256)
    moves = DIRECTION_VECTORS[nearest_direction(walked)]
    constant = float(((moves - moves.mean(0)) ** 2).mean())
    assert trained.notes["imitation_mse"] < 0.8 * constant
    # ... then SAC updates it, with finite critic losses.
    assert trained.notes["updates"] > 0
    assert np.isfinite(trained.history["q_loss"]).all()
    evaluation = TASK.evaluate(archetype, trained.module, settings)
    assert evaluation.episodes > 0
    assert evaluation.action_count == 9
    assert evaluation.win_rate is not None
    assert evaluation.baseline_win_rate is not None
    assert evaluation.action_entropy_bits is not None
