"""A game server that speaks only SQL: what an rAthena map server does with this product.

Its world is the contract simulator (models/envs/contract_combat, docs/contract_combat.md): every
monster's 64 floats are the game server's state contract (docs/state_contract.md), and monsters
act through the ten primitive actions the server executes (0 IDLE ... 9 FLEE; 255 = its own
traditional AI, `traditional_actions`). It stands in for the C++ server's game logic. Fights take
one of two paths, each a `ContractCombatEnv` of its own:

    pack fights (action_space "pack"), every 100 ms tick:
      ml.sync_monsters(...)             every monster: cell, hp, archetype, leadership, 64 floats
      ml.send_*_signal(...)             the leader: the pack's target, retreat, formation; the
                                        hurt ask for help (the simulator's own signal rules)
      ml.request_pack_actions(jsonb)    one per pack; the answer comes on ml_decisions
      the answered pack actions run through their recipes (docs/pack_recipes.md); a monster whose
      answer missed the deadline, or was 255, runs the traditional AI's primitive in the same step
    legacy fights (action_space "primitives"), every tick:
      INSERT INTO ai_requests ...       each living monster, as the rAthena gateway writes it
      SELECT ... FROM ai_responses      polled for 15 ms: action 0-9 is executed; 255 or no
                                        answer, the traditional AI (UPDATE ... 'timeout' on a miss)
    fight over:
      ml.record_pack_episode(...)       pack fights: the episode, for offline training
      ml.despawn_monster(id)            the pack leaves the map

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
from numpy.typing import NDArray

from models.config import load_config
from models.envs.base import EpisodeStats, Observation
from models.envs.contract_combat.env import DEFEAT, VICTORY, ContractCombatEnv
from models.envs.contract_combat.execute import N_ACTIONS
from models.envs.contract_combat.traditional import traditional_actions
from models.envs.pack_combat import rules as R
from models.envs.pack_combat.signals import PackSignals
from plpython.signal_encoding import FORMATIONS
from plpython.state_contract import TRADITIONAL_AI

I64 = NDArray[np.int64]
OUTCOMES = {VICTORY: "victory", DEFEAT: "defeat"}
#: The simulator's mob types, one per archetype: what the gateway writes as monster_id and mob_id.
MOB_TYPE_BASE = 1000
#: A monster that acted by the traditional AI is recorded in its pack's episode as SPLIT (engage
#: its own enemy, the pack action nearest to rAthena's mob AI): an episode holds pack actions only.
TRADITIONAL_AS_PACK_ACTION = R.SPLIT
#: A signal is sent again after half its time to live while it still holds (the database drops
#: it at its expiry), and at once when it changes.
REFRESH_SHARE = 0.5

SYNC = (
    "SELECT ml.sync_monsters($1::int[], $2::int[], $3::text[], $4::int[], $5::int[], $6::int[], "
    "$7::float8[], $8::float8[], $9::real[])"
)
ATTACK_TARGET = "SELECT ml.send_attack_target_signal($1, $2, $3, $4)"
RETREAT = "SELECT ml.send_retreat_signal($1, $2, $3, $4, $5)"
FORMATION = "SELECT ml.send_formation_command($1, $2, $3::jsonb, $4)"
HELP = "SELECT ml.send_help_request($1, $2, $3, $4, $5, $6)"
REQUEST = "SELECT ml.request_pack_actions($1::jsonb)"
RECORD = "SELECT ml.record_pack_episode($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
DESPAWN = "SELECT ml.despawn_monster($1)"
# The legacy gateway's own statements (README, "The legacy gateway protocol"); its poll reads one
# request at a time, this stand-in reads the open ones together.
GATEWAY_INSERT = (
    "INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, position_x, "
    "position_y, hp_ratio, sp_ratio, status, priority) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 5) RETURNING request_id"
)
GATEWAY_POLL = (
    "SELECT request_id, action_id, model_version FROM ai_responses WHERE request_id = ANY($1)"
)
GATEWAY_TIMEOUT = "UPDATE ai_requests SET status = 'timeout' WHERE request_id = ANY($1)"


@dataclass
class PathStats:
    """One path's figures over a phase (pack requests or the legacy gateway)."""

    fights: int = 0
    wins: int = 0
    kills: float = 0.0
    pack_survival: float = 0.0
    requests: int = 0  # monsters asked about (pack: in a request; legacy: ai_requests rows)
    decisions: int = 0  # answered in time by a model (a pack action; a legacy action 0-9)
    answered_traditional: int = 0  # answered in time with 255
    missed: int = 0  # no answer in time (pack: the deadline; legacy: 15 ms)
    latencies_ms: list[float] = field(default_factory=list)
    model_versions: set[str] = field(default_factory=set)

    @property
    def win_rate(self) -> float:
        return self.wins / self.fights if self.fights else float("nan")

    @property
    def traditional(self) -> int:
        """Monster decisions the traditional AI made (255 answers and misses)."""
        return self.answered_traditional + self.missed


@dataclass
class PhaseStats:
    """What one phase of the demo measured (every figure comes from what ran)."""

    name: str
    started: float = field(default_factory=time.monotonic)
    ticks: int = 0
    pack: PathStats = field(default_factory=PathStats)
    legacy: PathStats = field(default_factory=PathStats)
    signals_sent: int = 0
    episodes_recorded: int = 0

    @property
    def episodes(self) -> int:
        return self.pack.fights + self.legacy.fights


@dataclass
class Fight:
    """One fight on its own map: its ids, the episode so far, the signals last sent."""

    serial: int
    frames: list[dict[str, Any]] = field(default_factory=list)
    sent: dict[str, tuple[Any, float]] = field(default_factory=dict)  # key -> (value, when)
    scores: list[float] = field(default_factory=list)  # the worker's coordination scores
    dead: set[int] = field(default_factory=set)  # slots synced as dead (hp_ratio 0)


@dataclass
class Arena:
    """One path's fights: a ContractCombatEnv, its observation and its fights."""

    env: ContractCombatEnv
    obs: Observation
    fights: list[Fight]


class GameServer:
    def __init__(
        self,
        game_url: str,
        n_fights: int = 24,
        legacy_share: float = 0.25,
        tick_s: float = 0.1,
        deadline_s: float = 0.05,
        gateway_timeout_s: float = 0.015,
        seed: int = 7,
        max_steps: int = 100,
    ) -> None:
        self.url = game_url
        self.tick_s, self.deadline_s = tick_s, deadline_s
        self.gateway_timeout_s = gateway_timeout_s
        config = load_config()
        # The API's limits (config section `limits`, the database's copy in ml.config): a sync
        # goes in calls of at most sync_monsters, an episode keeps at most episode_steps steps.
        self.limits = config.limits
        ttl = config.signals
        self.refresh_s = {
            kind: REFRESH_SHARE * ttl.ttl_seconds.get(kind, ttl.default_ttl_seconds)
            for kind in ("attack_target", "retreat", "formation_command", "help_request")
        }
        # Ids and maps of this run do not collide with monsters a previous run left behind.
        run = int(time.time()) % 10_000
        self.id_base, self.map_base = run * 100_000, run * 100
        self.next_serial = 0
        n_legacy = round(n_fights * legacy_share)
        self.pack = self._arena(n_fights - n_legacy, seed, "pack", max_steps)
        self.legacy = self._arena(n_legacy, seed + 1, "primitives", max_steps)
        # The traditional AI's own draws (wandering), apart from the simulator's.
        self.rng = np.random.default_rng(seed + 2)
        self.stats = PhaseStats("warm-up")
        self.timeline: list[dict[str, Any]] = []
        # The 5 s window of the timeline, kept across run_for calls (training polls every 2 s).
        self._window: dict[str, Any] = {"start": time.monotonic(), "stats": None}
        self.decision_queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.pending: dict[int, tuple[int, float]] = {}  # job id -> (fight, submit time)
        self.conn: asyncpg.Connection | None = None
        self.listener: asyncpg.Connection | None = None
        self.synced: set[int] = set()  # monsters the database knows (synced, not despawned)

    def _arena(self, n: int, seed: int, space: str, max_steps: int) -> Arena | None:
        if n < 1:
            return None
        env = ContractCombatEnv(n, seed=seed, max_steps=max_steps, action_space=space)
        return Arena(env, env.reset(), [self._new_fight() for _ in range(n)])

    # --- ids ------------------------------------------------------------------------------------
    def _new_fight(self) -> Fight:
        self.next_serial += 1
        return Fight(serial=self.next_serial)

    def monster_id(self, fight: Fight, n: int | np.integer[Any]) -> int:
        return self.id_base + fight.serial * 10 + int(n)

    def player_id(self, fight: Fight, k: int | np.integer[Any]) -> int:
        return self.id_base + fight.serial * 10 + 5 + int(k)

    @staticmethod
    def mob_type(env: ContractCombatEnv, e: int, n: int | np.integer[Any]) -> int:
        return MOB_TYPE_BASE + int(env.monsters.arch[e, n])

    @staticmethod
    def archetype(env: ContractCombatEnv, e: int, n: int | np.integer[Any]) -> str:
        return R.ARCHETYPES[int(env.monsters.arch[e, n])]

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

    # --- pack fights: state, signals, requests --------------------------------------------------
    async def _sync(self, arena: Arena, leader: I64) -> None:
        """Every living monster, and once each monster that died (hp_ratio 0: out of its pack)."""
        assert self.conn is not None
        env, obs = arena.env, arena.obs
        m = env.monsters
        columns: list[list[Any]] = [[] for _ in range(8)]
        states: list[NDArray[np.float32]] = []
        for e, n in zip(*np.nonzero(m.present), strict=True):
            fight = arena.fights[e]
            alive = bool(obs.agent_mask[e, n])
            monster = self.monster_id(fight, n)
            if not alive and (monster not in self.synced or n in fight.dead):
                continue
            if not alive:
                fight.dead.add(int(n))
            x, y = m.pos[e, n]
            row = (
                monster,
                self.mob_type(env, e, n),
                self.archetype(env, e, n),
                self.map_base + int(e),
                int(x) + 50,
                int(y) + 50,
                float(m.hp[e, n] / m.max_hp[e, n]) if alive else 0.0,
                # The simulator's leader is the database's leader: the highest leadership score.
                0.9 if leader[e] == n else 0.5 - 0.05 * int(n),
            )
            for column, value in zip(columns, row, strict=True):
                column.append(value)
            states.append(obs.local_obs[e, n])
        step = self.limits.sync_monsters
        for start in range(0, len(states), step):
            part = slice(start, start + step)
            flat = np.concatenate(states[part]).astype(np.float32)
            await self.conn.fetchval(SYNC, *(c[part] for c in columns), flat.tolist())
        self.synced.update(columns[0])

    def _due(self, fight: Fight, key: str, value: Any, kind: str, now: float) -> bool:
        last = fight.sent.get(key)
        if last is not None and last[0] == value and now - last[1] < self.refresh_s[kind]:
            return False
        fight.sent[key] = (value, now)
        self.stats.signals_sent += 1
        return True

    async def _send_signals(self, arena: Arena, sig: PackSignals, focus: I64) -> None:
        """Leaders signal their packs as the simulator's leaders do
        (`ContractCombatEnv.leader_signals`): a signal goes when it changes, and again before the
        database lets it expire."""
        assert self.conn is not None
        env, obs = arena.env, arena.obs
        m = env.monsters
        now = time.monotonic()
        for e, fight in enumerate(arena.fights):
            leader = int(sig.leader[e])
            living = np.flatnonzero(obs.agent_mask[e])
            if leader < 0 or leader not in living or len(living) < 2:
                continue
            me = self.monster_id(fight, leader)
            pack = [self.monster_id(fight, n) for n in living if n != leader]
            cls = int(sig.focus_class[e])
            if cls >= 0:
                target = self.player_id(fight, int(focus[e]))
                if self._due(fight, "attack", (me, target), "attack_target", now):
                    threat = float(R.CLASS_THREAT[cls])
                    await self.conn.fetchval(ATTACK_TARGET, me, target, threat, pack)
            if sig.retreat[e] and self._due(fight, "retreat", me, "retreat", now):
                x, y = m.spawn[e, leader]
                await self.conn.fetchval(RETREAT, me, int(x) + 50, int(y) + 50, "pack hurt", pack)
            formation = int(sig.formation[e])
            if formation >= 0 and self._due(
                fight, "formation", (me, formation), "formation_command", now
            ):
                await self.conn.fetchval(FORMATION, me, FORMATIONS[formation], "{}", pack)
            for n in living:
                urgency = float(sig.help_urgency[e, n])
                if urgency <= 0.0:
                    continue
                # The encoder's slot: a new request when the monster's urgency changes slot.
                slot = min(7, int(urgency * 8))
                if self._due(fight, f"help{n}", slot, "help_request", now):
                    x, y = m.pos[e, n]
                    mates = [self.monster_id(fight, j) for j in living if j != n]
                    ratio = float(m.hp[e, n] / m.max_hp[e, n])
                    await self.conn.fetchval(
                        HELP,
                        self.monster_id(fight, n),
                        urgency,
                        ratio,
                        int(x) + 50,
                        int(y) + 50,
                        mates,
                    )

    async def _request_pack_actions(self, arena: Arena) -> dict[int, int]:
        """One request per pack, the contract's 64 floats of each living monster; job -> fight."""
        assert self.conn is not None
        env, obs = arena.env, arena.obs
        jobs: dict[int, int] = {}
        for e, fight in enumerate(arena.fights):
            acting = np.flatnonzero(obs.agent_mask[e])
            if len(acting) == 0:
                continue
            request = {
                "monsters": [
                    {
                        "id": self.monster_id(fight, n),
                        "archetype": self.archetype(env, e, n),
                        "state": obs.local_obs[e, n].tolist(),
                    }
                    for n in acting
                ]
            }
            submitted = time.monotonic()
            job = await self.conn.fetchval(REQUEST, json.dumps(request))
            jobs[job] = e
            self.pending[job] = (e, submitted)
            self.stats.pack.requests += len(acting)
        return jobs

    # --- legacy fights: the gateway -------------------------------------------------------------
    async def _insert_gateway_requests(self, arena: Arena) -> dict[int, tuple[int, int, float]]:
        """Each living monster's request, exactly as the rAthena gateway writes it: the mob's type
        id as monster_id and mob_id, map 0 at (0, 0), hp and sp ratio from state[0] and state[1].
        Returns request id -> (fight, slot, insert time)."""
        assert self.conn is not None
        env, obs = arena.env, arena.obs
        sent: dict[int, tuple[int, int, float]] = {}
        for e, n in zip(*np.nonzero(obs.agent_mask), strict=True):
            state = obs.local_obs[e, n]
            mob = self.mob_type(env, int(e), n)
            request_id = await self.conn.fetchval(
                GATEWAY_INSERT,
                mob,
                mob,
                self.archetype(env, int(e), n),
                state.tolist(),
                0,
                0,
                0,
                float(state[0]),
                float(state[1]),
            )
            sent[request_id] = (int(e), int(n), time.monotonic())
        self.stats.legacy.requests += len(sent)
        return sent

    # --- answers --------------------------------------------------------------------------------
    async def _collect(
        self,
        jobs: dict[int, int],
        gateway: dict[int, tuple[int, int, float]],
        pack_actions: I64,
        legacy_actions: I64,
    ) -> None:
        """Wait for pack answers until the deadline and poll the gateway's answers for 15 ms after
        each request; an answered action goes into the arrays (-1 elsewhere: the traditional AI)."""
        assert self.conn is not None
        deadline = time.monotonic() + self.deadline_s
        waiting = set(jobs)
        window = self.gateway_timeout_s
        open_requests = dict(gateway)
        legacy = self.stats.legacy
        while True:
            now = time.monotonic()
            gateway_live = any(now <= sent + window for _, _, sent in open_requests.values())
            if not gateway_live and (not waiting or now >= deadline):
                break
            try:
                received, note = await asyncio.wait_for(self.decision_queue.get(), timeout=0.002)
                self._apply_decision(received, note, waiting, pack_actions)
            except TimeoutError:
                pass
            if not open_requests:
                continue
            rows = await self.conn.fetch(GATEWAY_POLL, list(open_requests))
            seen = time.monotonic()
            for row in rows:
                e, n, sent = open_requests[row["request_id"]]
                if seen > sent + window:
                    continue  # too late for the gateway: its timeout below
                del open_requests[row["request_id"]]
                legacy.latencies_ms.append((seen - sent) * 1e3)
                if row["model_version"]:
                    legacy.model_versions.add(str(row["model_version"]))
                action = int(row["action_id"])
                if 0 <= action < N_ACTIONS:
                    legacy_actions[e, n] = action
                    legacy.decisions += 1
                else:
                    legacy.answered_traditional += 1
            expired = [r for r, (_, _, sent) in open_requests.items() if seen > sent + window]
            if expired:
                legacy.missed += len(expired)
                await self.conn.execute(GATEWAY_TIMEOUT, expired)  # the gateway's own statement
                for r in expired:
                    del open_requests[r]
        while not self.decision_queue.empty():
            received, note = self.decision_queue.get_nowait()
            self._apply_decision(received, note, waiting, pack_actions)
        assert self.pack is not None or not jobs
        if self.pack is not None:
            self.stats.pack.missed += sum(
                int(self.pack.obs.agent_mask[jobs[j]].sum()) for j in waiting
            )
        if open_requests:  # left when the pack deadline ended the loop
            legacy.missed += len(open_requests)
            await self.conn.execute(GATEWAY_TIMEOUT, list(open_requests))

    def _apply_decision(
        self, received: float, note: dict[str, Any], waiting: set[int], actions: I64
    ) -> None:
        job = int(note["job_id"])
        entry = self.pending.pop(job, None)
        if entry is None or self.pack is None:
            return
        e, submitted = entry
        stats = self.stats.pack
        stats.latencies_ms.append((received - submitted) * 1e3)
        if job not in waiting:
            return  # late: recorded, not used (the tick already moved on)
        waiting.discard(job)
        if note.get("model_version"):
            stats.model_versions.add(str(note["model_version"]))
        fight = self.pack.fights[e]
        if note.get("coordination_score") is not None:
            fight.scores.append(float(note["coordination_score"]))
        by_id = {a["monster_id"]: a for a in note.get("actions") or []}
        for n in np.flatnonzero(self.pack.obs.agent_mask[e]):
            answer = by_id.get(self.monster_id(fight, n))
            action = TRADITIONAL_AI if answer is None else int(answer["action"])
            if 0 <= action < R.N_ACTIONS:
                actions[e, n] = action
                stats.decisions += 1
            else:  # 255 (or an unanswered monster of an answered job)
                stats.answered_traditional += 1

    # --- one tick -------------------------------------------------------------------------------
    def _traditional(self, arena: Arena) -> I64:
        env = arena.env
        roll = self.rng.random(arena.obs.agent_mask.shape)
        return traditional_actions(env.monsters, env.players, arena.obs.agent_mask, roll)

    async def tick(self) -> None:
        jobs: dict[int, int] = {}
        gateway: dict[int, tuple[int, int, float]] = {}
        pack_actions = np.full((1, 5), -1, np.int64)
        legacy_actions = np.full((1, 5), -1, np.int64)
        if self.pack is not None:
            sig, focus = self.pack.env.leader_signals()
            await self._sync(self.pack, sig.leader)
            await self._send_signals(self.pack, sig, focus)
            jobs = await self._request_pack_actions(self.pack)
            pack_actions = np.full(self.pack.obs.agent_mask.shape, -1, np.int64)
        if self.legacy is not None:
            gateway = await self._insert_gateway_requests(self.legacy)
            legacy_actions = np.full(self.legacy.obs.agent_mask.shape, -1, np.int64)
        await self._collect(jobs, gateway, pack_actions, legacy_actions)
        if self.pack is not None:
            await self._step_pack(self.pack, pack_actions)
        if self.legacy is not None:
            await self._step_legacy(self.legacy, legacy_actions)
        self.stats.ticks += 1

    async def _step_pack(self, arena: Arena, answered: I64) -> None:
        """The answered pack actions through their recipes; the traditional AI's primitive for
        every other living monster, in the same step."""
        before = arena.obs
        acting = before.agent_mask
        by_model = answered >= 0
        primitives = np.where(acting & ~by_model, self._traditional(arena), -1)
        actions = np.where(by_model, answered, R.FOCUS_FIRE)  # FOCUS_FIRE: not executed
        arena.obs, result = arena.env.step(actions, primitives=primitives)
        recorded = np.where(acting, np.where(by_model, answered, TRADITIONAL_AS_PACK_ACTION), 0)
        for e, fight in enumerate(arena.fights):
            present = before.pack_mask[e]
            fight.frames.append(
                {
                    "global": before.global_state[e, present],
                    "local": before.local_obs[e, present],
                    "signals": before.signals[e, present],
                    "actions": recorded[e, present],
                    "team": np.float32(result.team_reward[e]),
                    "individual": result.individual_rewards[e, present],
                }
            )
        await self._finish_fights(arena, result.episodes, before, self.stats.pack, record=True)

    async def _step_legacy(self, arena: Arena, answered: I64) -> None:
        """Action 0-9 as answered; the traditional AI for 255 and misses."""
        before = arena.obs
        actions = np.where(answered >= 0, answered, self._traditional(arena))
        arena.obs, result = arena.env.step(np.where(before.agent_mask, actions, 0))
        await self._finish_fights(arena, result.episodes, before, self.stats.legacy, record=False)

    async def _finish_fights(
        self,
        arena: Arena,
        episodes: EpisodeStats,
        before: Observation,
        stats: PathStats,
        record: bool,
    ) -> None:
        assert self.conn is not None
        extra = episodes.extra
        for k, e in enumerate(episodes.env_index):
            e = int(e)
            fight = arena.fights[e]
            outcome = int(extra["outcome"][k])
            stats.fights += 1
            stats.wins += int(outcome == VICTORY)
            stats.kills += float(extra["kills"][k])
            stats.pack_survival += float(extra["pack_survival"][k])
            ids = [self.monster_id(fight, n) for n in np.flatnonzero(before.pack_mask[e])]
            frames = fight.frames[-self.limits.episode_steps :]  # the fight's end, if very long
            if record and 2 <= len(ids) <= 5 and frames:
                score = float(np.mean(fight.scores)) if fight.scores else 0.0
                await self.conn.fetchval(
                    RECORD,
                    fight.serial + self.id_base,
                    ids,
                    OUTCOMES.get(outcome, "timeout"),
                    np.stack([f["global"] for f in frames]).tolist(),
                    np.stack([f["local"] for f in frames]).tolist(),
                    np.stack([f["actions"] for f in frames]).astype(int).tolist(),
                    [float(f["team"]) for f in frames],
                    np.stack([f["individual"] for f in frames]).tolist(),
                    np.stack([f["signals"] for f in frames]).tolist(),
                    min(max(score, 0.0), 1.0),
                )
                self.stats.episodes_recorded += 1
            for monster in ids:
                if monster in self.synced:
                    await self.conn.fetchval(DESPAWN, monster)
                    self.synced.discard(monster)
            arena.fights[e] = self._new_fight()

    # --- phases ---------------------------------------------------------------------------------
    async def run_for(self, seconds: float, stats: PhaseStats) -> PhaseStats:
        """Play ticks every tick_s for `seconds`, recording into `stats`."""
        self.stats = stats
        end = time.monotonic() + seconds
        next_tick = time.monotonic()
        window = self._window
        if window["stats"] is not stats:  # a new phase: its window starts from its own counters
            window.update(self._window_start(stats), stats=stats)
        while time.monotonic() < end:
            await self.tick()
            if time.monotonic() - window["start"] >= 5.0:
                self.timeline.append(self._window_point(stats, window))
                window.update(self._window_start(stats))
            next_tick += self.tick_s
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_tick = time.monotonic()  # a slow tick: do not try to catch up
        return stats

    @staticmethod
    def _window_start(stats: PhaseStats) -> dict[str, Any]:
        return {
            "start": time.monotonic(),
            **{
                f"{name}_{key}": value
                for name, path in (("pack", stats.pack), ("legacy", stats.legacy))
                for key, value in (
                    ("fights", path.fights),
                    ("wins", path.wins),
                    ("lat", len(path.latencies_ms)),
                )
            },
        }

    @staticmethod
    def _window_point(stats: PhaseStats, window: dict[str, Any]) -> dict[str, Any]:
        point: dict[str, Any] = {"t": time.monotonic(), "name": stats.name}
        for name, path in (("pack", stats.pack), ("legacy", stats.legacy)):
            fights = path.fights - window[f"{name}_fights"]
            wins = path.wins - window[f"{name}_wins"]
            lat = path.latencies_ms[window[f"{name}_lat"] :]
            point[f"{name}_win_rate"] = wins / fights if fights else float("nan")
            point[f"{name}_p50_ms"] = float(np.median(lat)) if lat else float("nan")
        return point

    async def despawn_all(self) -> None:
        """The packs leave the maps: every monster the database knows of this run."""
        assert self.conn is not None
        for monster in sorted(self.synced):
            await self.conn.fetchval(DESPAWN, monster)
        self.synced.clear()
