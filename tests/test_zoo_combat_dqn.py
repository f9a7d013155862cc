"""combat_dqn: the archetype rewards on hand-built fights, the prioritized replay, the arena's
transitions, and a tiny training that learns the traditional AI's choices better than a constant
answer does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from config.zoo import archetype_training
from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.contract_combat.execute import ATTACK, IDLE
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.combat_dqn import TASK
from models.zoo.tasks.dqn_arena import Arena, agreement, decide, measured_step
from models.zoo.tasks.dqn_reward import weighted
from models.zoo.trainers.dqn import DQNSettings, PrioritizedReplay, SumTree


def duel(player_hp: float) -> tuple[ContractCombatEnv, np.ndarray]:
    """A pack of two and one player: monster 0 stands next to the player and targets it, monster
    1 stands far off; nobody heals, nothing is stunned or blessed."""
    env = ContractCombatEnv(1, seed=4, pack_size=2, n_players=1)
    env.reset()
    m, u = env.monsters, env.players.units
    m.pos[0, 0], m.pos[0, 1], u.pos[0, 0] = (10.0, 10.0), (1.0, 1.0), (10.0, 11.0)
    m.target[0, :2] = (0, -1)
    m.status[:] = 0
    m.blessed[:] = 0
    m.hp[0] = m.max_hp[0]
    u.heal[:] = 0.0
    u.hp[0, 0] = player_hp
    actions = np.full((1, 5), IDLE)
    actions[0, 0] = ATTACK
    return env, actions


def test_damage_terms_are_the_hp_that_moved() -> None:
    env, actions = duel(player_hp=1e7)
    u, m = env.players.units, env.monsters
    u.max_hp[0, 0] = 1e7
    player_before, monster_before = float(u.hp[0, 0]), float(m.hp[0, 0])
    _, result, before, terms = measured_step(env, actions)
    assert not result.done[0]
    dealt = 100.0 * (player_before - float(u.hp[0, 0])) / 1e7
    assert dealt > 0
    assert terms["damage_dealt"][0, 0] == pytest.approx(dealt, rel=1e-4)
    assert terms["damage_dealt"][0, 1] == 0.0
    taken = 100.0 * (monster_before - float(m.hp[0, 0])) / float(m.max_hp[0, 0])
    assert terms["damage_taken"][0, 0] == pytest.approx(taken, abs=1e-3)
    # Aggressive: 2 x dealt - 0.5 x taken per monster, then half own, half the pack's mean.
    own = 2.0 * terms["damage_dealt"][0] - 0.5 * terms["damage_taken"][0]
    expected = 0.5 * own + 0.5 * own[:2].mean()
    got = weighted(terms, "aggressive", before.present)[0]
    np.testing.assert_allclose(got[:2], expected[:2], rtol=1e-6)


def test_a_kill_ends_the_fight_with_its_bonuses() -> None:
    env, actions = duel(player_hp=1.0)
    _, result, before, terms = measured_step(env, actions)
    assert result.done[0]
    assert not result.truncated[0]
    assert terms["kills"][0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert terms["survival_bonus"][0, :2].tolist() == [1.0, 1.0]
    assert terms["allies_protected"][0, :2].tolist() == [1.0, 1.0]
    # The tank's "survival +150" is the end-of-fight bonus, not a per-step one.
    tank = weighted(terms, "tank", before.present)[0]
    config = archetype_training("tank")
    assert config.reward_weights["survival"] == 150.0
    aggro = 15.0 * terms["aggro_count"][0, :2]
    absorbed = 2.0 * terms["damage_absorbed"][0, :2]
    own = 150.0 + aggro + absorbed
    np.testing.assert_allclose(tank[:2], 0.3 * own + 0.7 * own.mean(), rtol=1e-6)


def test_sum_tree_samples_in_proportion_to_priority() -> None:
    tree = SumTree(4)
    tree.set(np.array([0, 1, 2, 3]), np.array([1.0, 3.0, 0.0, 4.0]))
    assert tree.total == 8.0
    picked = tree.find(np.random.default_rng(0).uniform(0, 8.0, 40_000))
    share = np.bincount(picked, minlength=4) / len(picked)
    np.testing.assert_allclose(share, [0.125, 0.375, 0.0, 0.5], atol=0.01)


def test_recordings_survive_the_ring_and_weights_correct_the_bias() -> None:
    replay = PrioritizedReplay(16, 2, DQNSettings(n_choices=3))
    obs = np.zeros((4, 2), np.float32)
    demo = np.ones(4, bool)
    replay.add(obs, np.arange(4), np.zeros(4, np.float32), obs, np.zeros(4, bool), demo, True)
    for k in range(5):  # 40 agent rows through a 12-row ring
        rows = np.full((8, 2), k, np.float32)
        replay.add(
            rows,
            np.zeros(8, np.int64),
            np.ones(8, np.float32),
            rows,
            np.zeros(8, bool),
            np.zeros(8, bool),
            False,
        )
    assert replay.n_kept == 4
    assert replay.size == 16
    assert replay.choice[:4].tolist() == [0, 1, 2, 3]
    assert replay.demo[:4].all()
    assert replay.obs[4:].max() == 4.0
    assert replay.obs[4:].min() == 3.0
    replay.update(np.array([5]), np.array([50.0]))
    picked, weights = replay.sample(64, 1.0, np.random.default_rng(0))
    assert (picked == 5).mean() > 0.3
    assert weights[picked == 5].max() == pytest.approx(weights.min())


def test_arena_transitions_follow_the_monsters() -> None:
    arena = Arena("aggressive", 8, 3, TASK.chooser())
    rng = np.random.default_rng(0)
    for _ in range(30):
        d = decide(arena, None, 0.0, rng)
        step = arena.step(d.inputs, d.choices, d.traditional)
        c = step.controlled
        # Terminal rows: the monster died or its fight was decided; the others continue.
        assert (step.next_inputs[c & ~step.terminal][:, 0] > 0).all()
        assert (d.choices == d.traditional).all()


def test_tiny_training_imitates_better_than_a_constant_answer() -> None:
    torch.manual_seed(0)
    settings = ZooSettings(profile="tiny", seed=0)
    trained = TASK.train("aggressive", settings, {}, None, NoCheckpoints())
    assert trained.samples > 0
    assert trained.history["loss"]
    agree, constant = agreement(trained.module, "aggressive", TASK.chooser(), 40, 99)
    assert agree > constant
