"""The inference loop: LISTEN, claim, decide, answer; heartbeat and rescue beside it.

NOTIFY only wakes the loop; it always re-reads the queue, and polls as a backstop because
notifications sent while it was disconnected are lost. After the database goes away it reconnects,
re-LISTENs, gives back what it held and catches up. SIGTERM drains: the round in flight is answered,
then the worker marks itself stopped and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import dataclass

import asyncpg

from worker.decide import decide_round
from worker.sessions import ActorPool, choose_providers
from worker.settings import WorkerSettings
from worker.store import Answer, AsyncpgJobStore, ClaimedJob

log = logging.getLogger("worker")

#: Planner settings of the worker's sessions. The queue tables grow from empty by thousands of rows
#: a second, faster than autovacuum analyzes them: a plan cached while the statistics said "empty"
#: scanned the whole queue on every claim and answer (measured: 4.8 s queueing after a TRUNCATE,
#: 20,000 gateway requests later). Every statement the worker runs is meant to go by index.
#: Generic plans, made once per prepared statement: left to choose, PostgreSQL planned the answer
#: statement anew on every round (0.2 ms of a 0.48 ms answer for one pack).
QUEUE_PLANNING = {"enable_seqscan": "off", "jit": "off", "plan_cache_mode": "force_generic_plan"}
#: Pause between looks at the queue while a submit that will not NOTIFY is still in flight, and
#: how long to keep looking before leaving it to the backstop poll (a submit takes ~0.3 ms).
FENCE_RETRY_S = 0.0005
FENCE_PATIENCE_S = 0.05
JOBS_CHANNEL = "ml_jobs"
MODELS_CHANNEL = "ml_models"
#: Connection failures after which the worker reconnects instead of exiting.
CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
)


@dataclass
class WorkerStats:
    rounds: int = 0
    jobs_done: int = 0
    reconnects: int = 0
    reloads: int = 0


class InferenceWorker:
    def __init__(self, settings: WorkerSettings, coordination_threshold: float = 0.7) -> None:
        self.settings = settings
        self.threshold = coordination_threshold
        self.providers = choose_providers(settings.prefer_gpu)
        self.pool = ActorPool(self.providers, settings.intra_op_threads, settings.hidden_cache_size)
        self.stats = WorkerStats()
        self.stopping = asyncio.Event()
        self.wake = asyncio.Event()
        self.reload_wanted = True
        self._main: asyncpg.Connection | None = None
        self._aux: asyncpg.Connection | None = None

    # --- signals ----------------------------------------------------------------------------
    def request_stop(self) -> None:
        log.info("stop requested: draining the round in flight")
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    # --- connections ------------------------------------------------------------------------
    def _on_jobs(self, *_: object) -> None:
        self.wake.set()

    def _on_models(self, *_: object) -> None:
        self.reload_wanted = True
        self.wake.set()

    async def _connect(self) -> tuple[AsyncpgJobStore, AsyncpgJobStore]:
        main = await asyncpg.connect(self.settings.database_url, server_settings=QUEUE_PLANNING)
        aux = await asyncpg.connect(self.settings.database_url, server_settings=QUEUE_PLANNING)
        await aux.add_listener(JOBS_CHANNEL, self._on_jobs)
        await aux.add_listener(MODELS_CHANNEL, self._on_models)
        self._main, self._aux = main, aux
        store, aux_store = AsyncpgJobStore(main), AsyncpgJobStore(aux)
        await store.register(
            self.settings.worker_id, socket.gethostname(), os.getpid(), self.providers
        )
        released = await store.release_own_jobs(self.settings.worker_id)
        if released:
            log.warning("gave back %d jobs held when the connection was lost", released)
        self.reload_wanted = True
        self.wake.set()  # catch up with whatever arrived while disconnected
        return store, aux_store

    async def _close(self) -> None:
        for conn in (self._main, self._aux):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), timeout=1.0)
        self._main = self._aux = None

    # --- loops ------------------------------------------------------------------------------
    async def _serve(self, store: AsyncpgJobStore) -> None:
        settings = self.settings
        while not self.stopping.is_set():
            if self.reload_wanted:
                self.reload_wanted = False
                changes = await self.pool.reload(store)
                if changes:
                    self.stats.reloads += 1
                    log.info("models: %s", "; ".join(changes))
            self.wake.clear()
            jobs = await store.claim(settings.worker_id, settings.max_jobs_per_round)
            if not jobs:
                # Busy workers get no NOTIFY (ml.wake_idle_workers); the empty claim has just
                # marked this one idle: look once more before sleeping, for jobs submitted while
                # it was marking.
                jobs = await self._last_look(store)
            if jobs:
                answers = decide_round(jobs, self.pool, self.threshold)
                try:
                    self.stats.jobs_done += await store.complete(settings.worker_id, answers)
                except asyncpg.PostgresError as exc:
                    if isinstance(exc, CONNECTION_ERRORS):
                        raise
                    # The answer statement is atomic: nothing of it was written.
                    log.error("answering %d jobs at once failed (%s)", len(answers), exc)
                    await self._answer_one_by_one(store, answers)
                self.stats.rounds += 1
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=settings.poll_interval_s)

    async def _answer_one_by_one(self, store: AsyncpgJobStore, answers: list[Answer]) -> None:
        """After a round's answer statement failed: answer each job alone, so that only a job
        whose answer cannot be written fails. That one goes back for another attempt or, out of
        attempts, dead with the error (and answered), never round after round forever."""
        worker_id = self.settings.worker_id
        for answer in answers:
            try:
                self.stats.jobs_done += await store.complete(worker_id, [answer])
            except asyncpg.PostgresError as exc:
                if isinstance(exc, CONNECTION_ERRORS):
                    raise
                requeued, dead = await store.give_back(
                    worker_id, [answer.job_id], f"its answer could not be written: {exc}"
                )
                log.error(
                    "job %d: its answer could not be written (%s); %s",
                    answer.job_id,
                    exc,
                    "dead" if dead else "re-queued" if requeued else "no longer held",
                )

    async def _last_look(self, store: AsyncpgJobStore) -> list[ClaimedJob]:
        """Claim once more after every submit that may have read `waiting` before it was set
        has committed. While one is in flight the fence is not clear: look again shortly (its
        job is about to appear), or at once when a newer submit NOTIFYs. A submit held open for
        longer (a client's long transaction) is left to the backstop poll, not spun on."""
        limit = self.settings.max_jobs_per_round
        give_up = asyncio.get_running_loop().time() + FENCE_PATIENCE_S
        while not self.stopping.is_set() and not await store.fence_clear():
            self.wake.clear()
            jobs = await store.claim(self.settings.worker_id, limit)
            if jobs or asyncio.get_running_loop().time() > give_up:
                return jobs
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=FENCE_RETRY_S)
        return await store.claim(self.settings.worker_id, limit)

    async def _beat(self, store: AsyncpgJobStore) -> None:
        settings = self.settings
        since_rescue = 0.0
        while not self.stopping.is_set():
            try:
                await store.heartbeat(settings.worker_id, self.stats.jobs_done, "running")
                since_rescue += settings.heartbeat_interval_s
                if since_rescue >= settings.rescue_interval_s:
                    since_rescue = 0.0
                    requeued, dead = await store.rescue(settings.lease_s)
                    if requeued or dead:
                        log.warning("rescued %d jobs of dead workers (%d dead)", requeued, dead)
            except asyncpg.PostgresError as exc:
                if isinstance(exc, CONNECTION_ERRORS):
                    raise
                log.error("heartbeat or rescue failed, retrying at the next beat: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=settings.heartbeat_interval_s)

    async def _session(self) -> None:
        """One connected stretch: serve and beat until stopped or the connection breaks."""
        store, aux_store = await self._connect()
        tasks = [
            asyncio.create_task(self._serve(store)),
            asyncio.create_task(self._beat(aux_store)),
        ]
        try:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise a connection error from either loop
            await asyncio.gather(*pending)
            await aux_store.heartbeat(self.settings.worker_id, self.stats.jobs_done, "stopped")
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            await self._close()

    async def run(self) -> WorkerStats:
        """Serve until stopped; reconnect whenever the database goes away."""
        backoff = self.settings.reconnect_backoff_s
        log.info(
            "worker %s starting, execution providers: %s",
            self.settings.worker_id,
            ", ".join(self.providers),
        )
        while not self.stopping.is_set():
            try:
                await self._session()
            except CONNECTION_ERRORS as exc:
                self.stats.reconnects += 1
                log.warning("database connection lost (%s); reconnecting in %.1fs", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = self.settings.reconnect_backoff_s
        log.info(
            "worker %s stopped: %d jobs in %d rounds",
            self.settings.worker_id,
            self.stats.jobs_done,
            self.stats.rounds,
        )
        return self.stats
