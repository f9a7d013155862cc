"""ContractCombatEnv.step(actions, primitives=...): in the pack action space, chosen monsters
execute one of the ten primitives instead of their pack action's recipe, in the same step (what a
game server does for a monster whose answer missed its deadline: its traditional AI)."""

from __future__ import annotations

import numpy as np
import pytest

from models.envs.base import Observation, StepResult
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.execute import N_ACTIONS
from models.envs.pack_combat import rules as R

E, STEPS = 16, 60


def same(a: tuple[Observation, StepResult], b: tuple[Observation, StepResult]) -> None:
    (obs_a, res_a), (obs_b, res_b) = a, b
    for name in ("local_obs", "signals", "global_state", "agent_mask", "pack_mask"):
        np.testing.assert_array_equal(getattr(obs_a, name), getattr(obs_b, name), err_msg=name)
    for name in ("team_reward", "agent_rewards", "individual_rewards", "done", "truncated"):
        np.testing.assert_array_equal(getattr(res_a, name), getattr(res_b, name), err_msg=name)
    np.testing.assert_array_equal(res_a.episodes.env_index, res_b.episodes.env_index)
    for key, value in res_a.episodes.extra.items():
        np.testing.assert_array_equal(value, res_b.episodes.extra[key], err_msg=key)


def test_every_monster_overridden_is_the_primitives_step() -> None:
    pack = ContractCombatEnv(E, seed=3, action_space="pack")
    prim = ContractCombatEnv(E, seed=3, action_space="primitives")
    rng = np.random.default_rng(0)
    pack.reset(), prim.reset()
    for _ in range(STEPS):
        primitives = rng.integers(0, N_ACTIONS, (E, 5))
        pack_actions = rng.integers(0, R.N_ACTIONS, (E, 5))
        same(pack.step(pack_actions, primitives=primitives), prim.step(primitives))


def test_no_monster_overridden_is_the_plain_pack_step() -> None:
    mixed = ContractCombatEnv(E, seed=5, action_space="pack")
    plain = ContractCombatEnv(E, seed=5, action_space="pack")
    rng = np.random.default_rng(1)
    mixed.reset(), plain.reset()
    for _ in range(STEPS):
        pack_actions = rng.integers(0, R.N_ACTIONS, (E, 5))
        same(mixed.step(pack_actions, primitives=np.full((E, 5), -1)), plain.step(pack_actions))


def test_a_mixed_step_gives_each_monster_its_own_orders() -> None:
    """Half the monsters FLEE (a primitive), the rest FOCUS_FIRE through the recipe: the fleeing
    ones drop their target, the others keep the pack's."""
    env = ContractCombatEnv(E, seed=7, action_space="pack")
    obs = env.reset()
    rng = np.random.default_rng(2)
    for _ in range(8):  # into the fight: targets taken
        obs, _ = env.step(np.full((E, 5), R.FOCUS_FIRE))
    flee = rng.random((E, 5)) < 0.5
    stunned = env.monsters.status[..., 0] > 0
    before = env.monsters.target.copy()
    alive = obs.agent_mask.copy()
    _, result = env.step(np.full((E, 5), R.FOCUS_FIRE), primitives=np.where(flee, 9, -1))
    m = env.monsters
    live = alive & ~stunned & m.alive & ~result.done[:, None]  # finished fights restarted
    fled = flee & live
    assert fled.any()
    # FLEE drops the target; one hit on the way back turns it on its attacker (rAthena's reaction).
    assert ((m.target[fled] == -1) | (m.target[fled] == m.last_attacker[fled])).all()
    assert (m.target[fled] == -1).mean() > 0.5
    kept = ~flee & live & (before >= 0)
    assert kept.any()
    assert (m.target[kept] >= 0).mean() > 0.8


@pytest.mark.parametrize(
    ("primitives", "words"),
    [
        (np.full((E, 4), -1), "shape"),
        (np.full((E, 5), 10), r"\[-1, 10\)"),
        (np.full((E, 5), -2), r"\[-1, 10\)"),
        (np.full((E, 5), 0.5), r"\[-1, 10\)"),
    ],
)
def test_bad_primitives_are_refused(primitives: np.ndarray, words: str) -> None:
    env = ContractCombatEnv(E, seed=0, action_space="pack")
    env.reset()
    with pytest.raises(ValueError, match=words):
        env.step(np.zeros((E, 5), np.int64), primitives=primitives)
