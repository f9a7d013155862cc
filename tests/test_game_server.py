"""scripts/game_server.py, the demo's game server: the contract simulator played through the SQL
contract on two paths (pack requests, the legacy gateway), against the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import psycopg

from models.envs.contract_combat.env import ContractCombatEnv
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.signals import encode_signal_vectors
from scripts.game_server import MOB_TYPE_BASE, GameServer, PhaseStats
from tests.worker_helpers import deploy_actor, wait_until, worker_process


def test_the_leaders_signals_are_the_environments() -> None:
    """What the game server sends (env.leader_signals) encodes to the signals the actors see."""
    env = ContractCombatEnv(32, seed=4, action_space="pack")
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(40):
        sig, _ = env.leader_signals()
        expected = encode_signal_vectors(sig, env.monsters.alive)
        expected[~obs.agent_mask] = 0.0
        np.testing.assert_array_equal(expected, obs.signals)
        obs, _ = env.step(rng.integers(0, R.N_ACTIONS, (32, 5)))


def play(game: GameServer, ticks: int) -> PhaseStats:
    async def run() -> PhaseStats:
        await game.connect()
        try:
            stats = PhaseStats("test")
            game.stats = stats
            for _ in range(ticks):
                await game.tick()
            return stats
        finally:
            await game.close()

    return asyncio.run(run())


def test_without_a_worker_every_monster_acts_by_the_traditional_ai(
    game_url: str, worker_url: str, db_url: str
) -> None:
    # Fights of 4 steps: 6 ticks finish every fight once (recorded, despawned) and start the next.
    game = GameServer(game_url, n_fights=4, legacy_share=0.5, deadline_s=0.003, max_steps=4)
    stats = play(game, ticks=6)
    pack, legacy = stats.pack, stats.legacy
    assert pack.requests > 0
    assert legacy.requests > 0
    assert (pack.missed, pack.decisions, pack.answered_traditional) == (pack.requests, 0, 0)
    assert (legacy.missed, legacy.decisions, legacy.answered_traditional) == (legacy.requests, 0, 0)
    assert pack.fights >= 2
    assert legacy.fights >= 2
    assert stats.episodes_recorded == pack.fights
    assert stats.signals_sent > 0
    with psycopg.connect(worker_url) as conn:
        rows = conn.execute(
            "SELECT monster_id, mob_id, archetype, state_vector, map_id, position_x, position_y, "
            "hp_ratio, sp_ratio, status FROM ml.ai_requests"
        ).fetchall()
        assert len(rows) == legacy.requests
        for monster, mob, archetype, state, map_id, x, y, hp, sp, status in rows:
            # The gateway writes the mob's type id as both ids, map 0 at (0, 0), and the state's
            # first two floats as hp and sp ratio.
            assert monster == mob
            assert mob - MOB_TYPE_BASE == R.ARCHETYPES.index(archetype)
            assert (map_id, x, y, status) == (0, 0, 0, "timeout")
            assert len(state) == 64
            assert (hp, sp) == (state[0], state[1])
        violations = conn.execute(
            "SELECT requests, requests_checked FROM ml.state_contract_violations WHERE name = 'any'"
        ).fetchone()
        assert violations == (0, legacy.requests)  # the contract's 64 floats, every one
        jobs = conn.execute(
            "SELECT count(*), sum(cardinality(monster_ids)), bool_and(cardinality(states) = "
            "64 * cardinality(monster_ids)) FROM ml.inference_jobs WHERE kind = 'pack'"
        ).fetchone()
        assert jobs is not None
        n_jobs, monsters, shaped = jobs
        assert n_jobs > 0
        assert monsters == pack.requests
        assert shaped
        episodes = conn.execute(
            "SELECT count(*), min(pack_size), max(pack_size) FROM ml.ml_pack_episodes"
        ).fetchone()
        assert episodes is not None
        assert episodes[0] == pack.fights
        assert 2 <= episodes[1] <= episodes[2] <= 5
    with psycopg.connect(db_url) as admin:
        synced: dict[int, Any] = dict(
            admin.execute("SELECT id, leadership_score FROM ml.monsters").fetchall()
        )
        leaders = [r[0] for r in admin.execute("SELECT leader_id FROM ml.packs").fetchall()]
    # Finished fights left the maps; the fights playing now are synced, each pack led by the
    # simulator's leader (the highest leadership score).
    assert set(synced) == game.synced
    assert leaders
    assert all(synced[leader] == 0.9 for leader in leaders if leader is not None)


def test_with_a_worker_both_paths_use_the_models_answers(
    game_url: str, worker_url: str, db_url: str
) -> None:
    """The pack actor deployed for every archetype: pack requests are answered with pack actions
    (run through their recipes), gateway requests with action ids 0-9 (the worker's combat model,
    else the pack actor through ml.legacy_action_map)."""
    for archetype in R.ARCHETYPES:
        deploy_actor(db_url, archetype, "1.0")
    game = GameServer(game_url, n_fights=4, legacy_share=0.5, deadline_s=0.2, max_steps=30)

    async def run() -> PhaseStats:
        await game.connect()
        try:
            stats = PhaseStats("test")
            game.stats = stats
            started = asyncio.get_running_loop().time()
            while asyncio.get_running_loop().time() - started < 60:
                await game.tick()
                if stats.pack.decisions >= 20 and stats.legacy.decisions >= 5:
                    break
            return stats
        finally:
            await game.close()

    with worker_process(worker_url):
        with psycopg.connect(worker_url, autocommit=True) as conn:
            assert wait_until(
                lambda: conn.execute("SELECT count(*) FROM ml.workers").fetchone() != (0,)
            )
        stats = asyncio.run(run())
    assert stats.pack.decisions >= 20
    assert stats.legacy.decisions >= 5
    assert stats.pack.model_versions == {"1.0"}
    assert stats.legacy.model_versions == {"1.0"}
