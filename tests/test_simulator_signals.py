"""The simulator's signal vectors equal what the database's encoder makes of the same signals."""

from __future__ import annotations

import numpy as np

from models.envs.pack_combat import rules as R
from models.envs.pack_combat.policies import random_policy
from models.envs.pack_combat.signals import TARGET_DIM_BY_CLASS, encode_signal_vectors, signal_dicts
from models.envs.pack_combat.simulator import PackCombatEnv
from plpython import signal_encoding as se


def test_vectorized_encoding_equals_encode_signals() -> None:
    env = PackCombatEnv(48, seed=21, max_steps=60)
    obs = env.reset()
    rng = np.random.default_rng(0)
    kinds: set[str] = set()
    for _ in range(90):
        for e in range(env.n_envs):
            inboxes = signal_dicts(env.signals, env.mon.alive, e)
            for n, inbox in enumerate(inboxes):
                kinds.update(s["signal_type"] for s in inbox)
                expected = np.array(se.encode_signals(inbox), np.float32)
                if not obs.agent_mask[e, n]:
                    expected[:] = 0.0
                assert np.array_equal(obs.signals[e, n], expected), (e, n, inbox)
        obs, _ = env.step(random_policy(obs, rng))
    # The run exercised every kind of signal the leaders send.
    assert kinds == {"attack_target", "retreat", "formation_command", "help_request"}


def test_signal_rules() -> None:
    env = PackCombatEnv(64, seed=22)
    obs = env.reset()
    rng = np.random.default_rng(1)
    for _ in range(25):
        obs, _ = env.step(random_policy(obs, rng))
    sig, mon, adv = env.signals, env.mon, env.adv
    vectors = encode_signal_vectors(sig, mon.alive)
    for e in range(64):
        leader = env.leader[e]
        if leader < 0:
            continue
        assert mon.alive[e, leader]
        assert mon.max_hp[e, leader] == mon.max_hp[e][mon.alive[e]].max()
        focus = env.focus[e]
        assert adv.alive[e, focus]
        hearers = [n for n in range(5) if mon.alive[e, n] and n != leader]
        for n in hearers:
            # attack_target names the focus target's class through its threat slot.
            target_dims = np.nonzero(vectors[e, n, :8])[0]
            assert list(target_dims) == [TARGET_DIM_BY_CLASS[adv.cls[e, focus]]]
            assert (vectors[e, n, se.FORMATION_BASE : se.FORMATION_BASE + 8] > 0).sum() == 1
        # The leader hears none of its own broadcasts.
        assert not vectors[e, leader, :16].any()
        # Help requests come from hurt monsters and reach the others, not the sender.
        hurt = mon.alive[e] & (mon.hp[e] < R.Scenario().help_threshold * mon.max_hp[e])
        for n in range(5):
            if not mon.alive[e, n]:
                continue
            others_hurt = hurt & (np.arange(5) != n)
            assert vectors[e, n, 16:24].any() == others_hurt.any()


def test_target_slots_differ_by_class() -> None:
    slots = {int(d) for d in TARGET_DIM_BY_CLASS}
    assert len(slots) == R.N_CLASSES
    priest_slot = int(TARGET_DIM_BY_CLASS[R.PRIEST])
    assert priest_slot == se.signal_dimension("attack_target", {"threat": 0.95})
