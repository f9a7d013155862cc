"""Poison pills: malformed decision jobs written straight into ml.inference_jobs (as the owner role,
past every check of the API) beside well-formed requests submitted through the API, all claimed in
one round by a real worker process. Whatever the malformed rows hold, the worker survives, every
well-formed job is answered exactly once, and every malformed one ends failed or dead with its
message (a pack job's caller is told so on ml_decisions)."""

from __future__ import annotations

import json
import math
import reprlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

import hypothesis.strategies as st
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

from tests.worker_helpers import (
    collect_decisions,
    deploy_actor,
    request_pack,
    sync_pack,
    worker_process,
)

PACKS = [[m + 10 * k for m in range(1, 4)] for k in range(1, 5)]  # 4 packs of 3, synced
FINAL = ("done", "failed", "dead")
WORKER_IDS = count(1)


@dataclass(frozen=True)
class BadJob:
    """One malformed row of ml.inference_jobs: `what` names the defect, `expect` is what its
    error must say."""

    what: str
    expect: str
    kind: str = "pack"
    monster_ids: Any = None
    archetypes: Any = None
    states: Any = None
    states_f32: bytes | None = None
    signal_rows: Any = ()
    signal_dims: Any = ()
    signal_weights: Any = ()
    pack_leader_ids: Any = None

    def __repr__(self) -> str:  # a failing example names each pill without 64 floats a row
        fields = {k: reprlib.repr(v) for k, v in vars(self).items() if k not in ("what", "expect")}
        return f"BadJob<{self.what}>({', '.join(f'{k}={v}' for k, v in fields.items())})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints it
        printer.text(repr(self))


def well_formed(what: str, expect: str, n: int, **changes: Any) -> BadJob:
    """A row that would be answered, but for `changes`."""
    ids = [8_000_000 + i for i in range(n)]
    job = BadJob(
        what,
        expect,
        monster_ids=ids,
        archetypes=["aggressive"] * n,
        states=[[0.25] * 64 for _ in range(n)],
        signal_rows=[],
        signal_dims=[],
        signal_weights=[],
        pack_leader_ids=ids[:1] * n,
    )
    return replace(job, **changes)


def ids_2d(rows: int, cols: int) -> BadJob:
    ids = [[8_100_000 + r * cols + c for c in range(cols)] for r in range(rows)]
    return well_formed("monster ids 2-D", "monster_ids must be", rows * cols, monster_ids=ids)


def archetypes_2d(rows: int, cols: int) -> BadJob:
    return well_formed(
        "archetypes 2-D",
        "archetypes must be",
        rows * cols,
        archetypes=[["aggressive"] * cols for _ in range(rows)],
    )


def states_width(n: int, width: int) -> BadJob:
    return well_formed(
        "states of the wrong width",
        "state vector must have 64 floats",
        n,
        states=[[0.5] * width for _ in range(n)],
    )


def states_rows(n: int, rows: int) -> BadJob:
    return well_formed(
        "states of the wrong count", "states must be", n, states=[[0.5] * 64 for _ in range(rows)]
    )


def states_3d(n: int) -> BadJob:
    return well_formed(
        "states 3-D", "states must be", n, states=[[[0.5] * 32, [0.5] * 32] for _ in range(n)]
    )


def state_not_finite(n: int, value: float | None) -> BadJob:
    states: list[list[float | None]] = [[0.5] * 64 for _ in range(n)]
    states[-1][7] = value
    return well_formed("state not finite", "contains NaN or infinity", n, states=states)


def packed_garbage(n: int, data: bytes) -> BadJob:
    return well_formed("packed states garbage", "state", n, states=None, states_f32=data)


def signal_rows_outside(n: int, row: int) -> BadJob:
    return well_formed(
        "signal row outside the monsters",
        "signal entries outside",
        n,
        signal_rows=[row],
        signal_dims=[0],
        signal_weights=[0.5],
    )


def signal_dims_outside(n: int, dim: int) -> BadJob:
    return well_formed(
        "signal dimension outside 0-31",
        "signal entries outside",
        n,
        signal_rows=[1],
        signal_dims=[dim],
        signal_weights=[0.5],
    )


def signal_lengths(n: int, rows: int, dims: int, weights: int) -> BadJob:
    return well_formed(
        "signal arrays of different lengths",
        "signal entries must be",
        n,
        signal_rows=[1] * rows,
        signal_dims=[0] * dims,
        signal_weights=[0.5] * weights,
    )


def signal_2d(n: int) -> BadJob:
    return well_formed(
        "signal arrays 2-D",
        "signal_rows must be one-dimensional",
        n,
        signal_rows=[[1, 1]],
        signal_dims=[[0, 1]],
        signal_weights=[[0.5, 0.5]],
    )


def signal_weight_not_finite(n: int, value: float | None) -> BadJob:
    return well_formed(
        "signal weight not finite",
        "signal vector contains NaN or infinity",
        n,
        signal_rows=[1],
        signal_dims=[0],
        signal_weights=[value],
    )


def null_monster(n: int, at: int) -> BadJob:
    ids: list[int | None] = [8_200_000 + i for i in range(n)]
    ids[at % n] = None
    return well_formed("null monster id", "monster_ids must be", n, monster_ids=ids)


def null_archetype(n: int, at: int) -> BadJob:
    archetypes: list[str | None] = ["aggressive"] * n
    archetypes[at % n] = None
    return well_formed("null archetype", "unknown archetype", n, archetypes=archetypes)


def unknown_archetype(n: int, name: str) -> BadJob:
    return well_formed("unknown archetype", "unknown archetype", n, archetypes=[name] * n)


def archetype_count(n: int, extra: int) -> BadJob:
    return well_formed(
        "archetypes of the wrong count",
        "archetypes",
        n,
        archetypes=["aggressive"] * (n + extra),
    )


def leader_count(n: int, extra: int) -> BadJob:
    return well_formed(
        "pack leaders of the wrong count", "pack leaders", n, pack_leader_ids=[None] * (n + extra)
    )


def leaders_2d(n: int) -> BadJob:
    return well_formed(
        "pack leaders 2-D", "pack_leader_ids must be", n, pack_leader_ids=[[1] * n, [2] * n]
    )


def no_monsters() -> BadJob:
    return well_formed(
        "no monsters",
        "no monsters",
        0,
        monster_ids=[],
        archetypes=[],
        states=[],
        pack_leader_ids=[],
    )


def gateway_without_request(n: int) -> BadJob:
    return well_formed("gateway job without its request", "gateway", n, kind="gateway")


SIZES = st.integers(1, 4)
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf, None])
NAMES = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=12
).filter(lambda s: s not in {"aggressive", "defensive", "support", "mage", "tank", "ranged"})

BAD_JOBS = st.one_of(
    st.builds(ids_2d, st.integers(2, 3), st.integers(1, 3)),
    st.builds(archetypes_2d, st.integers(2, 3), st.integers(1, 3)),
    st.builds(states_width, SIZES, st.integers(1, 130).filter(lambda w: w != 64)),
    st.builds(states_rows, SIZES, st.integers(1, 6)).filter(
        lambda j: len(j.states) != len(j.monster_ids)
    ),
    st.builds(states_3d, SIZES),
    st.builds(state_not_finite, SIZES, NOT_FINITE),
    # Any bytes but the size of n x 64 floats (which random bytes may well be, and valid).
    SIZES.flatmap(
        lambda n: st.builds(
            packed_garbage, st.just(n), st.binary(max_size=1100).filter(lambda b: len(b) != 256 * n)
        )
    ),
    st.builds(signal_rows_outside, SIZES, st.integers(-3, 8)).filter(
        lambda j: not 1 <= j.signal_rows[0] <= len(j.monster_ids)
    ),
    st.builds(signal_dims_outside, SIZES, st.one_of(st.integers(-40, -1), st.integers(32, 99))),
    st.builds(
        signal_lengths, SIZES, st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)
    ).filter(lambda j: not len(j.signal_rows) == len(j.signal_dims) == len(j.signal_weights)),
    st.builds(signal_2d, SIZES),
    st.builds(signal_weight_not_finite, SIZES, NOT_FINITE),
    st.builds(null_monster, SIZES, st.integers(0, 3)),
    st.builds(null_archetype, SIZES, st.integers(0, 3)),
    st.builds(unknown_archetype, SIZES, NAMES),
    st.builds(archetype_count, SIZES, st.sampled_from([-1, 1, 2])).filter(
        lambda j: len(j.archetypes) != len(j.monster_ids)
    ),
    st.builds(leader_count, SIZES, st.sampled_from([-1, 1, 3])).filter(
        lambda j: len(j.pack_leader_ids) != len(j.monster_ids)
    ),
    st.builds(leaders_2d, SIZES),
    st.just(no_monsters()),
    st.builds(gateway_without_request, SIZES),
)

#: A round: malformed rows and well-formed requests (an index into PACKS), in submit order.
ROUNDS = st.lists(st.one_of(BAD_JOBS, st.integers(0, len(PACKS) - 1)), min_size=2, max_size=8)

#: One of every defect with well-formed requests between them: one round, every pill at once.
EVERY_PILL: list[BadJob | int] = [
    0,
    ids_2d(2, 2),
    archetypes_2d(2, 2),
    1,
    states_width(2, 63),
    states_rows(2, 3),
    states_3d(1),
    state_not_finite(2, None),
    packed_garbage(1, b"\x00\x01\x02"),
    2,
    signal_rows_outside(2, 3),
    signal_dims_outside(1, 32),
    signal_lengths(1, 1, 2, 0),
    signal_2d(1),
    signal_weight_not_finite(1, math.nan),
    null_monster(3, 1),
    null_archetype(2, 0),
    unknown_archetype(1, "dragon"),
    archetype_count(2, 1),
    leader_count(2, -1),
    leaders_2d(2),
    no_monsters(),
    gateway_without_request(1),
    3,
]


def insert_bad(admin: psycopg.Connection[Any], bad: BadJob) -> int:
    row = admin.execute(
        "INSERT INTO ml.inference_jobs (kind, monster_ids, archetypes, states, states_f32, "
        "signal_rows, signal_dims, signal_weights, pack_leader_ids) VALUES (%s, %s::integer[], "
        "%s::text[], %s::real[], %s, %s::integer[], %s::integer[], %s::real[], %s::integer[]) "
        "RETURNING id",
        (
            bad.kind,
            bad.monster_ids,
            bad.archetypes,
            bad.states,
            bad.states_f32,
            list(bad.signal_rows),
            list(bad.signal_dims),
            list(bad.signal_weights),
            bad.pack_leader_ids,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def wait_final(
    admin: psycopg.Connection[Any], jobs: list[int], alive: Callable[[], bool], timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        pending = admin.execute(
            "SELECT count(*) FROM ml.inference_jobs WHERE id = ANY(%s) AND status <> ALL(%s)",
            (jobs, list(FINAL)),
        ).fetchone()
        if pending == (0,):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def game(game_url: str) -> Any:
    with psycopg.connect(game_url, autocommit=True) as conn:
        for k, pack in enumerate(PACKS):
            sync_pack(conn, pack, "aggressive", map_id=k + 1)
        yield conn


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    # Each example is a real worker process against the real server: no shrinking replays
    # (the failing example is reported as it was drawn, with every pill named).
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(submitted=ROUNDS)
@example(submitted=EVERY_PILL)
def test_poison_pills_fail_alone_and_the_worker_survives(
    db_url: str,
    worker_url: str,
    game: Any,
    admin: Any,
    listener: Any,
    submitted: list[BadJob | int],
) -> None:
    if not admin.execute("SELECT 1 FROM ml_models WHERE is_deployed").fetchone():
        deploy_actor(db_url, "aggressive", "1.0")
    good: list[int] = []
    bad: dict[int, BadJob] = {}
    for item in submitted:  # every row committed before the worker starts: one claimed round
        if isinstance(item, int):
            good.append(request_pack(game, PACKS[item], "aggressive"))
        else:
            bad[insert_bad(admin, item)] = item
    jobs = good + list(bad)
    with worker_process(worker_url, worker_id=f"poison-{next(WORKER_IDS)}") as process:
        finished = wait_final(admin, jobs, lambda: process.poll() is None, timeout_s=30)
        assert process.poll() is None, f"the worker exited ({process.returncode})"
        assert finished, "jobs left unanswered"
        announced = {j for j in jobs if j in good or bad[j].kind == "pack"}
        decisions = collect_decisions(listener, announced, timeout_s=10)
        for note in listener.notifies(timeout=0.3):  # a second answer would come now
            payload = json.loads(note.payload)
            decisions.setdefault(int(payload["job_id"]), []).append(payload)
    assert process.returncode == 0  # drained and stopped on SIGTERM
    rows = {
        r[0]: r[1:]
        for r in admin.execute(
            "SELECT id, status, error, attempts FROM ml.inference_jobs WHERE id = ANY(%s)",
            (jobs,),
        ).fetchall()
    }
    # Every job's outcome against what it should have got, all at once: a failure names each
    # pill that got something else.
    wrong: dict[str, Any] = {}
    for job in good:
        notes = [d["status"] for d in decisions.get(job, [])]
        if rows[job] != ("done", None, 1) or notes != ["done"]:  # claimed and answered once
            wrong[f"well-formed job {job}"] = (rows[job], notes)
    for job, pill in bad.items():
        status, error, attempts = rows[job]
        notes = [d["status"] for d in decisions.get(job, [])]
        if (
            status not in ("failed", "dead")
            or pill.expect not in (error or "")
            or (pill.kind == "pack" and notes != [status])
        ):
            wrong[f"{pill.what} (job {job})"] = (status, error, attempts, notes)
    assert wrong == {}
