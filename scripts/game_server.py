"""A game server that speaks only SQL: what an rAthena map server does with this product.

Its world is the pack-combat simulator (models/envs/pack_combat/simulator.py: the same rules the
actors trained on), standing in for the C++ server's own game logic. Every monster decision goes
through the product's SQL contract, exactly as a C++ server would make it:

    each 100 ms tick:  ml.sync_monsters(jsonb)            state of every monster
                       ml.send_*_signal(...)              leaders signal their packs
                       ml.request_pack_actions(jsonb)     one per pack; answer on ml_decisions
                       INSERT INTO ai_requests ...        some fights: the legacy gateway protocol
                       (no answer by the deadline: the traditional AI acts, and the miss is counted)
    fight over:        ml.record_pack_episode(...)        the episode, for offline training
                       ml.despawn_monster(id)             the pack leaves the map

It never imports the worker, the networks or the database modules of the product.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import numpy as np

from models.config import load_config
from models.envs.base import Observation
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.simulator import DEFEAT, VICTORY, PackCombatEnv
from plpython.signal_encoding import FORMATIONS

#: The game server's own reading of the legacy gateway's action ids (0-9) in its world.
#: ATTACK->FOCUS_FIRE, MOVE_CLOSER->GROUP_UP, MOVE_AWAY->PROTECT_WEAK, MOVE_RANDOM->SPLIT,
#: CHANGE_TARGET->HELP_ALLY; anything else (IDLE, skills, FLEE, 255): the traditional AI.
LEGACY_TO_BEHAVIOUR = {1: 3, 2: 1, 3: 4, 4: 2, 8: 0}
TRADITIONAL_AI = R.SPLIT  # rAthena's mob AI: every monster engages its nearest adventurer
OUTCOMES = {VICTORY: "victory", DEFEAT: "defeat"}


@dataclass
class PhaseStats:
    """What one phase of the demo measured (every figure comes from what ran)."""

    name: str
    started: float = field(default_factory=time.monotonic)
    ticks: int = 0
    episodes: int = 0
    wins: int = 0
    coordinated_kills: int = 0
    pack_survival: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    gateway_latencies_ms: list[float] = field(default_factory=list)
    decisions: int = 0
    missed: int = 0
    gateway_requests: int = 0
    gateway_missed: int = 0
    signals_sent: int = 0
    episodes_recorded: int = 0
    model_versions: set[str] = field(default_factory=set)

    @property
    def win_rate(self) -> float:
        return self.wins / self.episodes if self.episodes else float("nan")


@dataclass
class Fight:
    """One pack fight on its own map: ids, the episode so far, the signals last sent."""

    serial: int
    legacy: bool
    frames: list[dict[str, Any]] = field(default_factory=list)
    last_signals: dict[str, Any] = field(default_factory=dict)


class GameServer:
    def __init__(
        self,
        game_url: str,
        n_fights: int = 24,
        legacy_share: float = 0.25,
        tick_s: float = 0.1,
        deadline_s: float = 0.05,
        seed: int = 7,
    ) -> None:
        self.url = game_url
        self.tick_s, self.deadline_s = tick_s, deadline_s
        # The API's limits (config section `limits`, the database's copy in ml.config): a sync
        # goes in calls of at most sync_monsters, an episode keeps at most episode_steps steps.
        self.limits = load_config().limits
        self.world = PackCombatEnv(n_fights, pack_size=(2, 5), n_adventurers=(1, 4), seed=seed)
        self.obs: Observation = self.world.reset()
        # Ids and maps of this run do not collide with monsters a previous run left behind.
        run = int(time.time()) % 10_000
        self.id_base, self.map_base = run * 100_000, run * 100
        self.next_serial = 0
        n_legacy = round(n_fights * legacy_share)
        self.fights = [self._new_fight(legacy=e < n_legacy) for e in range(n_fights)]
        self.stats = PhaseStats("warm-up")
        self.timeline: list[dict[str, Any]] = []
        # The 5 s window of the timeline, kept across run_for calls (training polls every 2 s).
        self._window: dict[str, Any] = {
            "start": time.monotonic(),
            "episodes": 0,
            "wins": 0,
            "lat": 0,
            "stats": None,
        }
        self.decision_queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.pending: dict[int, tuple[int, float]] = {}  # job id -> (fight, submit time)
        self.conn: asyncpg.Connection | None = None
        self.listener: asyncpg.Connection | None = None
        self.synced: set[int] = set()  # monsters the database knows (synced, not despawned)

    # --- ids ------------------------------------------------------------------------------------
    def _new_fight(self, legacy: bool) -> Fight:
        self.next_serial += 1
        return Fight(serial=self.next_serial, legacy=legacy)

    def monster_id(self, e: int | np.integer[Any], n: int | np.integer[Any]) -> int:
        return self.id_base + self.fights[int(e)].serial * 10 + int(n)

    def adventurer_id(self, e: int | np.integer[Any], a: int | np.integer[Any]) -> int:
        return self.id_base + self.fights[int(e)].serial * 10 + 5 + int(a)

    # --- connection -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self.conn = await asyncpg.connect(self.url)
        self.listener = await asyncpg.connect(self.url)
        await self.listener.add_listener("ml_decisions", self._on_decision)

    async def close(self) -> None:
        for conn in (self.conn, self.listener):
            if conn is not None:
                await conn.close()

    def _on_decision(self, _c: Any, _pid: int, _channel: str, payload: str) -> None:
        self.decision_queue.put_nowait((time.monotonic(), json.loads(payload)))

    # --- one tick -------------------------------------------------------------------------------
    def _monster_rows(self) -> list[dict[str, Any]]:
        world, obs = self.world, self.obs
        rows = []
        leader = world.signals.leader
        for e, n in zip(*np.nonzero(obs.agent_mask), strict=True):
            pos = world.mon.pos[e, n]
            rows.append(
                {
                    "id": self.monster_id(e, n),
                    "mob_id": 1000 + int(world.mon.cls[e, n]),
                    "archetype": R.ARCHETYPES[int(world.mon.cls[e, n])],
                    "map_id": self.map_base + int(e),
                    "x": round(pos[0]) + 50,
                    "y": round(pos[1]) + 50,
                    "hp_ratio": round(float(world.mon.hp[e, n] / world.mon.max_hp[e, n]), 4),
                    # The game's leader is the database's leader: the highest leadership score.
                    "leadership_score": 0.9 if leader[e] == n else round(0.5 - 0.05 * n, 2),
                    "state": [round(float(x), 5) for x in obs.local_obs[e, n]],
                }
            )
        return rows

    async def _send_signals(self) -> None:
        """Leaders signal their packs when what they want changes (signals live for their TTL)."""
        assert self.conn is not None
        world, obs = self.world, self.obs
        sig = world.signals
        for e, fight in enumerate(self.fights):
            leader = int(sig.leader[e])
            if leader < 0 or not obs.agent_mask[e, leader]:
                continue
            pack = [self.monster_id(e, n) for n in np.flatnonzero(obs.agent_mask[e]) if n != leader]
            if not pack:
                continue
            me = self.monster_id(e, leader)
            focus_class = int(sig.focus_class[e])
            if focus_class >= 0 and fight.last_signals.get("focus") != focus_class:
                target = int(np.flatnonzero(world.adv.cls[e] == focus_class)[0])
                await self.conn.fetchval(
                    "SELECT ml.send_attack_target_signal($1, $2, $3, $4)",
                    me,
                    self.adventurer_id(e, target),
                    float(R.CLASS_THREAT[focus_class]),
                    pack,
                )
                fight.last_signals["focus"] = focus_class
                self.stats.signals_sent += 1
            if bool(sig.retreat[e]) and not fight.last_signals.get("retreat"):
                x, y = world.mon.pos[e, leader]
                await self.conn.fetchval(
                    "SELECT ml.send_retreat_signal($1, $2, $3, $4, $5)",
                    me,
                    int(x) + 50,
                    int(y) + 50,
                    "pack hurt",
                    pack,
                )
                self.stats.signals_sent += 1
            fight.last_signals["retreat"] = bool(sig.retreat[e])
            formation = int(sig.formation[e])
            if formation >= 0 and fight.last_signals.get("formation") != formation:
                await self.conn.fetchval(
                    "SELECT ml.send_formation_command($1, $2, $3::jsonb, $4)",
                    me,
                    FORMATIONS[formation],
                    "{}",
                    pack,
                )
                fight.last_signals["formation"] = formation
                self.stats.signals_sent += 1

    async def _request_decisions(self) -> tuple[dict[int, int], list[tuple[int, int, int]]]:
        """Submit every pack request and every legacy request; returns job -> fight and the legacy
        (request id, fight, slot) triples."""
        assert self.conn is not None
        obs, world = self.obs, self.world
        jobs: dict[int, int] = {}
        legacy: list[tuple[int, int, int]] = []
        for e, fight in enumerate(self.fights):
            acting = np.flatnonzero(obs.agent_mask[e])
            if len(acting) == 0:
                continue
            if fight.legacy:
                for n in acting:
                    pos = world.mon.pos[e, n]
                    request_id = await self.conn.fetchval(
                        "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, "
                        "map_id, position_x, position_y, hp_ratio, sp_ratio, status, priority) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 5) "
                        "RETURNING request_id",
                        self.monster_id(e, n),
                        1000 + int(world.mon.cls[e, n]),
                        R.ARCHETYPES[int(world.mon.cls[e, n])],
                        obs.local_obs[e, n].tolist(),
                        self.map_base + e,
                        int(pos[0]) + 50,
                        int(pos[1]) + 50,
                        float(world.mon.hp[e, n] / world.mon.max_hp[e, n]),
                        1.0,
                    )
                    legacy.append((request_id, e, int(n)))
                continue
            request = {
                "monsters": [
                    {
                        "id": self.monster_id(e, n),
                        "archetype": R.ARCHETYPES[int(world.mon.cls[e, n])],
                        "state": obs.local_obs[e, n].tolist(),
                    }
                    for n in acting
                ]
            }
            submitted = time.monotonic()
            job = await self.conn.fetchval(
                "SELECT ml.request_pack_actions($1::jsonb)", json.dumps(request)
            )
            jobs[job] = e
            self.pending[job] = (e, submitted)
        return jobs, legacy

    async def _collect(
        self, jobs: dict[int, int], legacy: list[tuple[int, int, int]], actions: np.ndarray
    ) -> None:
        """Wait for answers until the deadline; whatever is missing gets the traditional AI."""
        assert self.conn is not None
        deadline = time.monotonic() + self.deadline_s
        waiting = set(jobs)
        legacy_open = {r: (e, n) for r, e, n in legacy}
        legacy_sent = time.monotonic()
        while (waiting or legacy_open) and time.monotonic() < deadline:
            try:
                received, note = await asyncio.wait_for(self.decision_queue.get(), timeout=0.002)
                self._apply_decision(received, note, waiting, actions)
            except TimeoutError:
                pass
            if legacy_open and time.monotonic() - legacy_sent <= 0.015:
                rows = await self.conn.fetch(
                    "SELECT request_id, action_id FROM ai_responses WHERE request_id = ANY($1)",
                    list(legacy_open),
                )
                for row in rows:
                    e, n = legacy_open.pop(row["request_id"])
                    self.stats.gateway_latencies_ms.append((time.monotonic() - legacy_sent) * 1e3)
                    actions[e, n] = LEGACY_TO_BEHAVIOUR.get(row["action_id"], TRADITIONAL_AI)
        while not self.decision_queue.empty():
            received, note = self.decision_queue.get_nowait()
            self._apply_decision(received, note, waiting, actions)
        self.stats.missed += sum(int(self.obs.agent_mask[jobs[j]].sum()) for j in waiting)
        self.stats.gateway_requests += len(legacy)
        self.stats.gateway_missed += len(legacy_open)
        if legacy_open:  # the gateway's own timeout statement
            await self.conn.execute(
                "UPDATE ai_requests SET status = 'timeout' WHERE request_id = ANY($1)",
                list(legacy_open),
            )

    def _apply_decision(
        self, received: float, note: dict[str, Any], waiting: set[int], actions: np.ndarray
    ) -> None:
        job = int(note["job_id"])
        entry = self.pending.pop(job, None)
        if entry is None:
            return
        e, submitted = entry
        self.stats.latencies_ms.append((received - submitted) * 1e3)
        if job not in waiting:
            return  # late: recorded, not used (the tick already moved on)
        waiting.discard(job)
        if note.get("model_version"):
            self.stats.model_versions.add(str(note["model_version"]))
        by_id = {a["monster_id"]: a for a in note.get("actions", [])}
        for n in np.flatnonzero(self.obs.agent_mask[e]):
            answer = by_id.get(self.monster_id(e, n))
            if answer is not None and answer["action"] != 255:
                actions[e, n] = answer["action"]
                self.stats.decisions += 1

    async def tick(self) -> None:
        assert self.conn is not None
        rows = self._monster_rows()
        step = self.limits.sync_monsters
        for start in range(0, len(rows), step):
            await self.conn.fetchval(
                "SELECT ml.sync_monsters($1::jsonb)", json.dumps(rows[start : start + step])
            )
        self.synced.update(row["id"] for row in rows)
        await self._send_signals()
        actions = np.where(self.obs.agent_mask, TRADITIONAL_AI, 0).astype(np.int64)
        jobs, legacy = await self._request_decisions()
        await self._collect(jobs, legacy, actions)
        before = self.obs
        self.obs, result = self.world.step(actions)
        for e, fight in enumerate(self.fights):
            present = before.pack_mask[e]
            fight.frames.append(
                {
                    "global": before.global_state[e, present],
                    "local": before.local_obs[e, present],
                    "signals": before.signals[e, present],
                    "actions": actions[e, present],
                    "team": np.float32(result.team_reward[e]),
                    "individual": result.individual_rewards[e, present],
                }
            )
        await self._finish_fights(result.episodes, before)
        self.stats.ticks += 1

    async def _finish_fights(self, episodes: Any, before: Observation) -> None:
        assert self.conn is not None
        for k, e in enumerate(episodes.env_index):
            e = int(e)
            fight = self.fights[e]
            self.stats.episodes += 1
            self.stats.wins += int(episodes.outcome[k] == VICTORY)
            self.stats.coordinated_kills += int(episodes.coordinated_kills[k])
            self.stats.pack_survival += float(episodes.pack_survival[k])
            ids = [self.monster_id(e, n) for n in np.flatnonzero(before.pack_mask[e])]
            frames = fight.frames[-self.limits.episode_steps :]  # the fight's end, if very long
            if 2 <= len(ids) <= 5 and frames:
                await self.conn.fetchval(
                    "SELECT ml.record_pack_episode($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    fight.serial + self.id_base,
                    ids,
                    OUTCOMES.get(int(episodes.outcome[k]), "timeout"),
                    np.stack([f["global"] for f in frames]).tolist(),
                    np.stack([f["local"] for f in frames]).tolist(),
                    np.stack([f["actions"] for f in frames]).astype(int).tolist(),
                    [float(f["team"]) for f in frames],
                    np.stack([f["individual"] for f in frames]).tolist(),
                    np.stack([f["signals"] for f in frames]).tolist(),
                    min(max(float(episodes.coordination_score[k]), 0.0), 1.0),
                )
                self.stats.episodes_recorded += 1
            for monster in ids:
                if monster in self.synced:
                    await self.conn.fetchval("SELECT ml.despawn_monster($1)", monster)
                    self.synced.discard(monster)
            self.fights[e] = self._new_fight(fight.legacy)

    async def run_for(self, seconds: float, stats: PhaseStats) -> PhaseStats:
        """Play ticks every tick_s for `seconds`, recording into `stats`."""
        self.stats = stats
        end = time.monotonic() + seconds
        next_tick = time.monotonic()
        window = self._window
        if window["stats"] is not stats:  # a new phase: its window starts from its own counters
            window.update(
                start=time.monotonic(),
                episodes=stats.episodes,
                wins=stats.wins,
                lat=len(stats.latencies_ms),
                stats=stats,
            )
        while time.monotonic() < end:
            await self.tick()
            if time.monotonic() - window["start"] >= 5.0:
                eps = stats.episodes - window["episodes"]
                lat = stats.latencies_ms[window["lat"] :]
                self.timeline.append(
                    {
                        "t": time.monotonic(),
                        "win_rate": (stats.wins - window["wins"]) / eps if eps else float("nan"),
                        "p50_ms": float(np.median(lat)) if lat else float("nan"),
                        "name": stats.name,
                    }
                )
                window.update(
                    start=time.monotonic(),
                    episodes=stats.episodes,
                    wins=stats.wins,
                    lat=len(stats.latencies_ms),
                )
            next_tick += self.tick_s
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_tick = time.monotonic()  # a slow tick: do not try to catch up
        return stats

    async def despawn_all(self) -> None:
        """The packs leave the maps: every monster the database knows of this run."""
        assert self.conn is not None
        for monster in sorted(self.synced):
            await self.conn.fetchval("SELECT ml.despawn_monster($1)", monster)
        self.synced.clear()
