"""movement_ppo: the movement environment's semantics on hand-built fights, and a tiny PPO run
that beats a random mover."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from config.zoo import archetype_training
from models.envs.contract_combat.encode import encode
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.movement_env import (
    DIRECTION_VECTORS,
    STAY,
    duel,
    nearest_direction,
    play,
    to_local,
    world_offset,
)
from models.zoo.tasks.movement_ppo import EVAL_SEED, TASK
from plpython.state_contract import ARCHETYPES
from plpython.zoo_types import DIRECTIONS

FIGHTS = 48

N, E, S = DIRECTIONS.index("N"), DIRECTIONS.index("E"), DIRECTIONS.index("S")


def move(k: int) -> np.ndarray:
    """Slot 0 of the one-fight duel moves k; the (absent) others stay."""
    local = np.zeros((1, 5, 2))
    local[0, 0] = DIRECTION_VECTORS[k]
    return local


def test_moves_are_read_in_the_monsters_frame() -> None:
    facing_east = np.array([[1.0, 0.0]])
    steps = np.array([2])
    # N is toward the reference, E to its right, S away; the length is the walk step.
    assert world_offset(DIRECTION_VECTORS[[N]], facing_east, steps).tolist() == [[2.0, 0.0]]
    assert world_offset(DIRECTION_VECTORS[[E]], facing_east, steps).tolist() == [[0.0, -2.0]]
    assert world_offset(DIRECTION_VECTORS[[S]], facing_east, steps).tolist() == [[-2.0, 0.0]]
    # Every move, in any frame, is recovered from the cells it walked.
    for angle in np.linspace(0, 2 * np.pi, 7):
        forward = np.array([[np.cos(angle), np.sin(angle)]])
        for k in range(len(DIRECTIONS)):
            offset = world_offset(DIRECTION_VECTORS[[k]], forward, np.array([3]))
            assert nearest_direction(to_local(offset, forward, np.array([3])))[0] == k


def test_a_move_walks_one_step_toward_the_target_without_attacking() -> None:
    env = duel("aggressive", monster=(5, 5), player=(5, 12))
    knight = env.env.players.units
    step = env.step(move(N))
    assert env.env.monsters.pos[0, 0].tolist() == [5.0, 6.0]
    assert knight.hp[0, 0] == knight.max_hp[0, 0]  # walking, it did not strike
    assert step.controlled[0, 0]
    assert not step.ended[0, 0]
    # The next state is the simulator's own encoding of the world after the move.
    obs, ctrl = env.observe()
    expected = encode(env.env.monsters, env.env.players, env.env.world)
    np.testing.assert_array_equal(obs[ctrl], expected[ctrl])


def test_staying_in_range_attacks_as_the_traditional_ai_and_moving_away_does_not() -> None:
    env = duel("aggressive", monster=(5, 5), player=(5, 6))
    knight = env.env.players.units
    stay = env.step(move(STAY))
    assert env.env.monsters.pos[0, 0].tolist() == [5.0, 5.0]
    assert knight.hp[0, 0] < knight.max_hp[0, 0]
    # Dealing damage within attack range is rewarded (damage x2, reach bonus).
    assert stay.reward[0, 0] > 0
    env = duel("aggressive", monster=(5, 5), player=(5, 6))
    knight = env.env.players.units
    env.step(move(S))
    assert env.env.monsters.pos[0, 0].tolist() == [5.0, 4.0]
    assert knight.hp[0, 0] == knight.max_hp[0, 0]


def test_serving_outputs_are_nine_probabilities_then_a_value() -> None:
    module = TASK.build("mage", "tiny").eval()
    states = TASK.example_inputs("mage", 16, seed=0)
    assert states.shape == (16, 64)
    assert states.dtype == np.float32
    with torch.no_grad():
        out = module(torch.as_tensor(states)).numpy()
    assert out.shape == (16, 10)
    np.testing.assert_allclose(out[:, :9].sum(1), 1.0, atol=1e-5)


@pytest.mark.parametrize("archetype", ["aggressive"])
def test_tiny_training_beats_a_random_mover(archetype: str) -> None:
    settings = ZooSettings(profile="tiny", seed=0, num_episodes=FIGHTS)
    trained = TASK.train(archetype, settings, {}, None, NoCheckpoints())
    evaluation = TASK.evaluate(archetype, trained.module, settings)
    assert evaluation.episodes > 0
    assert evaluation.action_count == 9
    assert evaluation.win_rate is not None
    assert evaluation.baseline_win_rate is not None
    assert evaluation.explained_variance is not None

    rng = np.random.default_rng(0)

    def random_mover(states: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        k = rng.integers(0, 9, len(states))
        return DIRECTION_VECTORS[k], k, None

    # The same evaluation fights, a random mover deciding: the trained model earns more.
    rand = play(archetype, random_mover, FIGHTS, EVAL_SEED + ARCHETYPES.index(archetype))
    scale = archetype_training(archetype).reward_scale
    assert evaluation.avg_episode_reward is not None
    assert evaluation.avg_episode_reward > rand.returns.mean() * scale
