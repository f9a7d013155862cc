"""How a combat model's answer is drawn from its policy (config/model_types.py): by the request's
state, so an answer is a function of the request (as the gateway's cache assumes) while different
states get independent draws from the policy's probabilities."""

from __future__ import annotations

import numpy as np

from config.model_types import ACTION_DIMS, COMBAT, DEFER, drawn_actions, state_draws


def test_the_same_state_gets_the_same_draw_and_different_states_spread() -> None:
    rng = np.random.default_rng(0)
    states = rng.random((20_000, 64), dtype=np.float32)
    draws = state_draws(states)
    assert ((draws >= 0) & (draws < 1)).all()
    np.testing.assert_array_equal(draws, state_draws(states.copy()))
    # Uniform: each tenth of [0, 1) holds about a tenth of 20,000 draws.
    counts = np.histogram(draws, bins=10, range=(0, 1))[0]
    assert (np.abs(counts - 2000) < 200).all()
    # One bit of one float changes the draw.
    nudged = states[:1].copy()
    nudged.view(np.uint32)[0, 5] ^= 1
    assert state_draws(nudged)[0] != draws[0]


def test_actions_follow_the_probabilities_and_never_an_impossible_one() -> None:
    """Over many states, each action's share is its probability; an action of probability 0
    is never drawn; one of probability 1 always."""
    rng = np.random.default_rng(1)
    states = rng.random((30_000, 64), dtype=np.float32)
    probs = np.zeros((30_000, ACTION_DIMS[COMBAT]), np.float32)
    probs[:, [1, 5, DEFER]] = [0.5, 0.2, 0.3]
    chosen = drawn_actions(probs, states)
    shares = np.bincount(chosen, minlength=ACTION_DIMS[COMBAT]) / len(chosen)
    np.testing.assert_allclose(shares[[1, 5, DEFER]], [0.5, 0.2, 0.3], atol=0.015)
    assert shares[[0, 2, 3, 4, 6, 7, 8, 9]].sum() == 0
    certain = np.zeros_like(probs)
    certain[:, 8] = 1.0
    assert (drawn_actions(certain, states) == 8).all()
