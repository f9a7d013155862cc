"""skill_dqn: the skill ids, what "none" and "skill k" make a monster do, the network's handling
of the ids, and a tiny training that imitates the traditional AI's casts better than a constant
answer."""

from __future__ import annotations

import numpy as np
import torch

from models.envs.contract_combat.execute import SKILL_1, SKILL_3
from models.envs.contract_combat.units import SKILL_TABLE
from models.envs.pack_combat import rules as R
from models.zoo.base import NoCheckpoints, ZooSettings
from models.zoo.tasks.dqn_arena import Arena, agreement, decide
from models.zoo.tasks.dqn_networks import RULED_OUT, SkillQNetwork
from models.zoo.tasks.dqn_skills import SKILL_IDS, skill_ids
from models.zoo.tasks.skill_dqn import TASK, without_skills
from plpython.zoo_types import SKILL_VOCAB, STATE_DIM


def test_every_simulated_skill_has_a_stable_id() -> None:
    arena = Arena("mage", 64, 0, TASK.chooser())
    m = arena.env.monsters
    ids = skill_ids(m)
    for a, skills in SKILL_TABLE.items():
        rows = m.present & (m.arch == a)
        expected = [SKILL_IDS[(a, s)] for s in range(len(skills))] + [0] * (3 - len(skills))
        assert (ids[rows] == expected).all()
    assert (ids[m.present & (m.arch == R.TANK)] == 0).all()
    assert SKILL_IDS[(R.SUPPORT, 0)] == 28  # AL_HEAL


def test_none_is_the_traditional_ai_without_its_skills() -> None:
    arena = Arena("support", 32, 1, TASK.chooser())
    chooser = arena.chooser
    rng = np.random.default_rng(0)
    casts = 0
    for _ in range(40):
        d = decide(arena, None, 0.0, rng)
        alive = arena.obs.agent_mask
        # The demonstrated choice reproduces the traditional AI exactly.
        again = chooser.primitives(arena, d.demonstrated, d.traditional)
        assert (again[alive] == d.traditional[alive]).all()
        # "none" never casts; skill k is SKILL_k.
        bare = chooser.primitives(arena, np.zeros_like(d.choices), d.traditional)
        assert not ((bare >= SKILL_1) & (bare <= SKILL_3)).any()
        assert (bare == without_skills(arena)).all()
        second = chooser.primitives(arena, np.full_like(d.choices, 2), d.traditional)
        assert (second == SKILL_1 + 1).all()
        casts += int((d.demonstrated[alive] > 0).sum())
        arena.step(d.inputs, d.choices, d.traditional)
    assert casts > 0


def test_network_reads_ids_modulo_the_vocabulary_and_rules_out_empty_slots() -> None:
    torch.manual_seed(0)
    net = SkillQNetwork([16], 4, 0.0).eval()
    state = torch.rand(2, STATE_DIM)
    ids = torch.tensor([[28.0, 34.0, 0.0], [28.0 + SKILL_VOCAB, 34.0, 0.0]])
    q = net(torch.cat([state[:1].repeat(2, 1), ids], 1))
    torch.testing.assert_close(q[0], q[1])
    assert q[0, 3] == RULED_OUT
    assert (q[:, :3] > RULED_OUT).all()
    valid = TASK.chooser().valid(torch.cat([state, ids], 1).numpy())
    assert valid.tolist() == [[True, True, True, False]] * 2


def test_tiny_training_imitates_better_than_a_constant_answer() -> None:
    # The ranged monster's one skill (AC_DOUBLE at 9 cells): when the traditional AI casts it
    # shows in the 64 floats (skills ready, target distance), unlike which of several skills is
    # ready (docs: the mage's two).
    torch.manual_seed(0)
    trained = TASK.train("ranged", ZooSettings(profile="tiny", seed=0), {}, None, NoCheckpoints())
    assert trained.samples > 0
    agree, constant = agreement(trained.module, "ranged", TASK.chooser(), 40, 99)
    assert agree > constant
