"""Pack episodes: the shared .npy layout, the buffer and collector, and the database round trips."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import numpy as np
import psycopg
import pytest
from psycopg import errors, sql

from models.buffers.pack_episodes import (
    PackEpisode,
    PackEpisodeBuffer,
    PackEpisodeCollector,
    encode_array,
    episode_row,
)
from plpython import pack_episode as layout
from tests.ctde_helpers import make_episode

T = TypeVar("T")

RECORD = (
    "SELECT ml.record_pack_episode(%s, %s::integer[], %s, %s::real[], %s::real[], "
    "%s::integer[], %s::real[], %s::real[], %s::real[], %s::real)"
)


def record_args(episode: PackEpisode) -> list[Any]:
    """ml.record_pack_episode's arguments, as a game server would send them."""
    return [
        episode.pack_id,
        episode.monster_ids,
        episode.outcome,
        episode.global_states.tolist(),
        episode.local_obs.tolist(),
        episode.actions.tolist(),
        episode.team_rewards.tolist(),
        episode.individual_rewards.tolist(),
        None if episode.signals is None else episode.signals.tolist(),
        episode.coordination_score,
    ]


def with_buffer(url: str, work: Callable[[PackEpisodeBuffer], Awaitable[T]], **kwargs: Any) -> T:
    async def run() -> T:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            return await work(PackEpisodeBuffer(max_episodes=100, db_pool=pool, **kwargs))
        finally:
            await pool.close()

    return asyncio.run(run())


# --- the layout shared with the database -------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((7,), np.float32), ((1,), np.float32), ((6, 3), np.int64), ((50, 3, 64), np.float32)],
)
def test_npy_encoder_writes_the_bytes_numpy_writes(shape: tuple[int, ...], dtype: Any) -> None:
    array = (np.arange(int(np.prod(shape))) * 0.37 - 3).astype(dtype).reshape(shape)
    descr = np.dtype(dtype).str
    assert layout.encode_npy(array.ravel().tolist(), descr, shape) == encode_array(array)


def test_database_encoder_and_python_encoder_agree() -> None:
    episode = make_episode()
    args = record_args(episode)
    row = layout.encode_episode(
        monster_ids=args[1],
        outcome=args[2],
        global_states=args[3],
        local_obs=args[4],
        actions=args[5],
        team_rewards=args[6],
        individual_rewards=args[7],
        signals=args[8],
        coordination_score=args[9],
    )
    params = episode_row(episode)
    assert row["global_states"] == params[7]
    assert row["local_obs"] == params[8]
    assert row["actions"] == params[9]
    assert row["individual_rewards"] == params[10]
    assert row["signals"] == params[11]
    assert row["team_rewards"] == params[12]
    assert row["team_reward"] == episode.total_team_reward


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(monster_ids=[1]), "pack size must be 2-5"),
        (lambda e: e.update(monster_ids=[1, 1, 2]), "must be distinct"),
        (lambda e: e.update(outcome="won"), "outcome must be one of"),
        (
            lambda e: e.update(local_obs=np.zeros((6, 3, 63))),
            r"local_obs must have shape \(6, 3, 64\)",
        ),
        (lambda e: e.update(actions=np.full((6, 3), 7)), "pack action indices 0-6"),
        (lambda e: e.update(actions=np.zeros((6, 3)) + 0.5), "actions must be integers"),
        (lambda e: e.update(coordination_score=1.5), r"coordination_score must be in \[0, 1\]"),
        (lambda e: e["team_rewards"].__setitem__(2, np.inf), "team_rewards must be finite"),
    ],
)
def test_invalid_episodes_are_refused(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    fields = make_episode().__dict__.copy()
    fields["team_rewards"] = fields["team_rewards"].copy()
    change(fields)
    with pytest.raises(layout.EpisodeError, match=message):
        PackEpisode(**fields)


# --- collector and buffer ----------------------------------------------------------------------


def test_collector_aligns_states_with_the_actions_taken_in_them() -> None:
    buffer = PackEpisodeBuffer(max_episodes=10)
    collector = PackEpisodeCollector(buffer)
    states = [np.full((3, 64), float(t), np.float32) for t in range(5)]
    pack_id = collector.start_episode([100, 101, 102], states[0])
    for t in range(4):
        collector.add_transition(
            pack_id,
            states[t + 1],
            actions=[t % 7, 1, 2],
            team_reward=0.5 * t,
            individual_rewards=[0.1, 0.2, 0.3],
            signals=None if t == 0 else np.ones((3, 32)),
        )
    episode = collector.finalize_episode(pack_id, outcome="victory", coordination_score=0.85)
    assert (episode.pack_size, episode.episode_length) == (3, 4)
    assert [float(episode.global_states[t, 0, 0]) for t in range(4)] == [0.0, 1.0, 2.0, 3.0]
    assert episode.actions.dtype == np.int64
    assert episode.actions[:, 0].tolist() == [0, 1, 2, 3]
    assert episode.total_team_reward == pytest.approx(3.0)
    assert episode.signals is not None
    assert episode.signals[0].sum() == 0  # a step without signals saw zeros
    assert episode.signals[1:].min() == 1
    assert len(buffer) == 1
    assert episode.coordination_score == pytest.approx(0.85)


def test_buffer_evicts_the_worst_or_the_oldest() -> None:
    rewarded = [make_episode(pack_id=i, seed=i) for i in range(6)]
    by_reward = PackEpisodeBuffer(max_episodes=4, prioritize_by_reward=True)
    fifo = PackEpisodeBuffer(max_episodes=4, prioritize_by_reward=False)
    for episode in rewarded:
        by_reward.add_episode(episode)
        fifo.add_episode(episode)
    assert [e.pack_id for e in fifo.episodes] == [2, 3, 4, 5]
    kept = sorted(e.total_team_reward for e in by_reward.episodes)
    lost = [e.total_team_reward for e in rewarded if e not in by_reward.episodes]
    assert min(kept) >= max(lost)


def test_get_batch_filters_by_pack_size_and_prioritizes_high_rewards() -> None:
    buffer = PackEpisodeBuffer(max_episodes=100, seed=1)
    for i in range(40):
        buffer.add_episode(make_episode(pack_id=i, n_agents=2 + i % 4, seed=i, steps=2))
    batch = buffer.get_batch(8, pack_size=3)
    assert len(batch) == 8
    assert all(e.pack_size == 3 for e in batch)
    assert len({e.pack_id for e in batch}) == 8
    assert len(buffer.get_batch(1000, pack_size=5)) == 10  # all there are, each once
    assert buffer.get_batch(4, pack_size=4, prioritized=True)

    best = max(buffer.episodes, key=lambda e: e.total_team_reward)
    picks = [buffer.get_batch(1, prioritized=True)[0] for _ in range(400)]
    uniform = [buffer.get_batch(1)[0] for _ in range(400)]
    assert sum(e is best for e in picks) > 2 * sum(e is best for e in uniform)


# --- database ----------------------------------------------------------------------------------


def test_buffer_round_trip_through_the_table_is_exact(worker_url: str) -> None:
    episodes = [
        make_episode(pack_id=1, n_agents=2, steps=3, seed=1),
        make_episode(pack_id=2, n_agents=5, steps=4, seed=2, with_signals=False, outcome="defeat"),
        make_episode(pack_id=3, n_agents=3, steps=5, seed=3, outcome="retreat"),
    ]

    async def work(buffer: PackEpisodeBuffer) -> tuple[int, int, int, list[PackEpisode]]:
        for episode in episodes:
            await buffer.save_episode(episode)
        everything = await buffer.load_from_database(limit=10)
        one = await buffer.load_from_database(pack_ids=[2], limit=10)
        rich = await buffer.load_from_database(
            limit=10, min_reward=max(e.total_team_reward for e in episodes)
        )
        return everything, one, rich, buffer.episodes

    everything, one, rich, loaded = with_buffer(worker_url, work)
    assert (everything, one, rich) == (3, 1, 1)
    newest_first = loaded[:3]
    assert [e.pack_id for e in newest_first] == [3, 2, 1]
    for original, back in zip(reversed(episodes), newest_first, strict=True):
        assert back.equals(original)
        assert back.global_states.dtype == np.float32
        assert back.actions.dtype == np.int64
    assert loaded[3].pack_id == 2


def test_game_server_records_an_episode_the_buffer_loads(game_url: str, worker_url: str) -> None:
    """ml.record_pack_episode (as ml_user) -> ml_pack_episodes -> load_from_database, exactly."""
    recorded = make_episode(pack_id=77, n_agents=4, steps=7, seed=9)
    unsignalled = make_episode(pack_id=78, n_agents=2, steps=2, seed=10, with_signals=False)
    with psycopg.connect(game_url, autocommit=True) as game:
        for episode in (recorded, unsignalled):
            row = game.execute(RECORD, record_args(episode)).fetchone()
            assert row is not None
            assert isinstance(row[0], int)

    async def work(buffer: PackEpisodeBuffer) -> list[PackEpisode]:
        await buffer.load_from_database(pack_ids=[77, 78])
        return buffer.episodes

    loaded = {e.pack_id: e for e in with_buffer(worker_url, work)}
    assert loaded[77].equals(recorded)
    assert loaded[78].equals(unsignalled)
    assert loaded[78].signals is None
    # The same bytes as the trainer's own writer.
    with psycopg.connect(worker_url) as conn:
        stored = conn.execute(
            "SELECT global_states, actions, team_rewards, team_reward FROM ml.ml_pack_episodes "
            "WHERE pack_id = 77"
        ).fetchone()
    assert stored is not None
    params = episode_row(recorded)
    assert (stored[0], stored[1], stored[2]) == (params[7], params[9], params[12])
    assert stored[3] == np.float32(recorded.total_team_reward)


def bad_call(episode: PackEpisode, index: int, value: Any) -> list[Any]:
    args = record_args(episode)
    args[index] = value
    return args


INVALID = errors.InvalidParameterValue
#: argument index of ml.record_pack_episode, bad value, expected error and message
BAD_CALLS = {
    "one-monster": (1, [100], INVALID, "pack size must be 2-5"),
    "six-monsters": (1, list(range(6)), INVALID, "pack size must be 2-5"),
    "outcome": (2, "won", INVALID, "outcome must be one of"),
    "state-width": (3, np.zeros((3, 2, 63)).tolist(), INVALID, "global_states must have shape"),
    "action": (5, [[0, 9], [0, 0], [0, 0]], INVALID, "pack action indices"),
    "nan": (6, [1.0, float("nan"), 0.0], INVALID, "team_rewards must be finite"),
    "null": (7, [[1.0, None], [0.0, 0.0], [0.0, 0.0]], errors.NullValueNotAllowed, "NULL elem"),
    "score": (9, 2.0, INVALID, "coordination_score"),
}


@pytest.mark.parametrize(("index", "value", "error", "message"), BAD_CALLS.values(), ids=BAD_CALLS)
def test_record_function_validates_with_sqlstates(
    game_url: str, index: int, value: Any, error: type[Exception], message: str
) -> None:
    episode = make_episode(pack_id=5, n_agents=2, steps=3)
    with psycopg.connect(game_url, autocommit=True) as game:
        with pytest.raises(error, match=message):
            game.execute(RECORD, bad_call(episode, index, value))
        game.execute(RECORD, record_args(episode))
        with pytest.raises(errors.UniqueViolation):
            game.execute(RECORD, record_args(episode))


def test_corrupt_or_misshapen_rows_are_logged_and_skipped(
    admin: psycopg.Connection[Any], worker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = make_episode(pack_id=1, n_agents=2, steps=3)
    admin.execute(
        "INSERT INTO ml.ml_pack_episodes (pack_id, monster_ids, pack_size, episode_length, "
        "team_reward, outcome, coordination_score, global_states, local_obs, actions, "
        "individual_rewards, signals, team_rewards) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        episode_row(good),
    )
    float64 = io.BytesIO()
    np.save(float64, good.global_states.astype(np.float64))
    corruptions = {
        2: ("global_states", b"not an npy file"),
        3: ("global_states", float64.getvalue()),
        4: ("actions", encode_array(good.actions[:2])),
        5: ("team_rewards", None),
    }
    for pack_id, (column, value) in corruptions.items():
        admin.execute(
            "INSERT INTO ml.ml_pack_episodes (pack_id, monster_ids, pack_size, episode_length, "
            "team_reward, outcome, global_states, local_obs, actions, individual_rewards, "
            "team_rewards) SELECT %s, monster_ids, pack_size, episode_length, team_reward, "
            "outcome, global_states, local_obs, actions, individual_rewards, team_rewards "
            "FROM ml.ml_pack_episodes WHERE pack_id = 1",
            [pack_id],
        )
        admin.execute(
            sql.SQL("UPDATE ml.ml_pack_episodes SET {} = %s WHERE pack_id = %s").format(
                sql.Identifier(column)
            ),
            [value, pack_id],
        )
    ids = dict(admin.execute("SELECT pack_id, id FROM ml.ml_pack_episodes").fetchall())

    async def work(buffer: PackEpisodeBuffer) -> tuple[int, list[tuple[int, str]]]:
        return await buffer.load_from_database(limit=10), buffer.skipped

    with caplog.at_level(logging.WARNING, logger="models.buffers.pack_episodes"):
        loaded, skipped = with_buffer(worker_url, work)
    assert loaded == 1
    assert sorted(row_id for row_id, _ in skipped) == sorted(ids[p] for p in corruptions)
    reasons = dict(skipped)
    assert "not a readable .npy array" in reasons[ids[2]]
    assert "expected <f4 (3, 2, 64), got <f8" in reasons[ids[3]]
    assert "actions: expected <i8 (3, 2), got <i8 (2, 2)" in reasons[ids[4]]
    assert "no per-step team_rewards" in reasons[ids[5]]
    for pack_id in corruptions:
        assert f"id={ids[pack_id]} pack_id={pack_id}" in caplog.text
