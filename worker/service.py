"""The inference loop: LISTEN, claim, decide, answer; heartbeat and rescue beside it.

NOTIFY only wakes the loop; it always re-reads the queue, and polls as a backstop because
notifications sent while it was disconnected are lost. After the database goes away it reconnects,
re-LISTENs, gives back what it held and catches up. SIGTERM drains: the round in flight is answered,
then the worker marks itself stopped and exits.

No job's content stops the worker: a malformed job fails alone with its message (worker/decide.py),
a round that cannot be decided at once is decided job by job, a job whose answer cannot be written
is given back (another attempt, or dead once out of attempts), and one that cannot even be given
back is buried dead. NOTIFY ml_models (which any role can send) costs a cheap version query, at most
one per MODELS_DEBOUNCE_S, and ONNX bytes are fetched only for a model that changed.
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

from worker.decide import decide_each, decide_round, error_text
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
#: A burst of ml_models notifications (any role can NOTIFY it: 18,500 of them once made every round
#: re-fetch 7.5 MB of models) costs at most one version check per this many seconds.
MODELS_DEBOUNCE_S = 0.25
#: After loading the models failed for a reason other than a refused model: try again this late.
MODELS_RETRY_S = 5.0
#: Connection failures after which the worker reconnects instead of exiting.
CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
)


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` means the connection is gone (reconnect), not that one statement failed.
    asyncpg's client-side DataError (a value it cannot encode) is an InterfaceError but also a
    ValueError, and says nothing about the connection."""
    return isinstance(exc, CONNECTION_ERRORS) and not isinstance(exc, ValueError)


@dataclass
class WorkerStats:
    rounds: int = 0
    jobs_done: int = 0
    reconnects: int = 0
    reloads: int = 0
    restarts: int = 0  # sessions ended by an unexpected error (logged), then started again


class InferenceWorker:
    def __init__(self, settings: WorkerSettings, coordination_threshold: float = 0.7) -> None:
        self.settings = settings
        self.threshold = coordination_threshold
        self.providers = choose_providers(settings.prefer_gpu)
        self.pool = ActorPool(self.providers, settings.intra_op_threads)
        self.stats = WorkerStats()
        self.stopping = asyncio.Event()
        self.wake = asyncio.Event()
        self.reload_wanted = True
        self._next_model_check = 0.0  # loop time before which no version check is made
        self._models_timer: asyncio.TimerHandle | None = None
        self._serving = False  # connected and set up: an unexpected error now starts over
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
        """Debounced: the first notification after a quiet spell wakes the loop at once, the
        rest of a burst make one more check when the debounce window ends."""
        self.reload_wanted = True
        if self._models_timer is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._next_model_check - loop.time())
            self._models_timer = loop.call_later(delay, self._models_due)

    def _models_due(self) -> None:
        self._models_timer = None
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
        released, dead = await store.release_own_jobs(self.settings.worker_id)
        if released or dead:
            log.warning(
                "gave back %d jobs held before this connection (%d more out of attempts: dead)",
                released,
                dead,
            )
        self.reload_wanted = True
        self._next_model_check = 0.0
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
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            if self.reload_wanted and loop.time() >= self._next_model_check:
                await self._reload_models(store)
            self.wake.clear()
            jobs = await self._claim(store)
            if not jobs:
                # Busy workers get no NOTIFY (ml.wake_idle_workers); the empty claim has just
                # marked this one idle: look once more before sleeping, for jobs submitted while
                # it was marking.
                jobs = await self._last_look(store)
            if jobs and not (jobs := await self._give_back_exhausted(store, jobs)):
                continue  # all of them out of attempts: look again at once
            if jobs:
                answers = self._decide(jobs)
                try:
                    self.stats.jobs_done += await store.complete(settings.worker_id, answers)
                except Exception as exc:
                    if connection_lost(exc):
                        raise
                    # The answer statement is atomic: nothing of it was written.
                    log.error("answering %d jobs at once failed (%s)", len(answers), exc)
                    await self._answer_one_by_one(store, answers)
                self.stats.rounds += 1
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=settings.poll_interval_s)

    async def _reload_models(self, store: AsyncpgJobStore) -> None:
        """Check the deployed models (at most once per MODELS_DEBOUNCE_S) and load what changed.
        A failure other than a lost connection keeps the models serving and tries again later."""
        loop = asyncio.get_running_loop()
        self.reload_wanted = False
        self._next_model_check = loop.time() + MODELS_DEBOUNCE_S
        try:
            changes = await self.pool.reload(store)
        except Exception as exc:
            if connection_lost(exc):
                raise
            log.error("loading the deployed models failed, again in %.0fs: %s", MODELS_RETRY_S, exc)
            self.reload_wanted = True
            self._next_model_check = loop.time() + MODELS_RETRY_S
            return
        if changes:
            self.stats.reloads += 1
            log.info("models: %s", "; ".join(changes))

    def _decide(self, jobs: list[ClaimedJob]) -> list[Answer]:
        """The round's answers; if deciding it at once raises (no job's content should make it:
        each is parsed alone first), job by job, so that only a job that still raises fails."""
        try:
            return decide_round(jobs, self.pool, self.threshold)
        except Exception:
            log.exception(
                "deciding a round of %d jobs at once failed: deciding each alone", len(jobs)
            )
            return decide_each(jobs, self.pool, self.threshold)

    async def _give_back_exhausted(
        self, store: AsyncpgJobStore, jobs: list[ClaimedJob]
    ) -> list[ClaimedJob]:
        """Jobs claimed after their last attempt go straight back, dead (and answered as dead);
        the rest are this round's."""
        exhausted = [job.id for job in jobs if job.exhausted]
        if not exhausted:
            return jobs
        error = "claimed again with no attempt left"
        await self._give_back_or_bury(store, exhausted, error)
        return [job for job in jobs if not job.exhausted]

    async def _give_back_or_bury(
        self, store: AsyncpgJobStore, job_ids: list[int], error: str
    ) -> tuple[int, int]:
        """Give jobs back (another attempt, or dead and answered once out of attempts). If even
        that fails, bury them dead with the error: the heartbeat would keep them 'running'
        otherwise. Returns (re-queued, dead)."""
        worker_id = self.settings.worker_id
        try:
            return await store.give_back(worker_id, job_ids, error)
        except Exception as exc:
            if connection_lost(exc):
                raise
            log.error("jobs %s could not be given back (%s): dead without an answer", job_ids, exc)
            buried = error_text(f"{error}; giving it back failed: {exc}")
            return 0, await store.bury(worker_id, job_ids, buried)

    async def _answer_one_by_one(self, store: AsyncpgJobStore, answers: list[Answer]) -> None:
        """After a round's answer statement failed: answer each job alone, so that only a job
        whose answer cannot be written fails. That one goes back for another attempt or, out of
        attempts, dead with the error (and answered), never round after round forever."""
        worker_id = self.settings.worker_id
        for answer in answers:
            try:
                self.stats.jobs_done += await store.complete(worker_id, [answer])
            except Exception as exc:
                if connection_lost(exc):
                    raise
                requeued, dead = await self._give_back_or_bury(
                    store, [answer.job_id], error_text(f"its answer could not be written: {exc}")
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
        give_up = asyncio.get_running_loop().time() + FENCE_PATIENCE_S
        while not self.stopping.is_set() and not await store.fence_clear():
            self.wake.clear()
            jobs = await self._claim(store)
            if jobs or asyncio.get_running_loop().time() > give_up:
                return jobs
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=FENCE_RETRY_S)
        return await self._claim(store)

    async def _claim(self, store: AsyncpgJobStore) -> list[ClaimedJob]:
        """A round's jobs, each pack job with its monsters' recurrent memory under the pack
        actors serving now. The pool changes only in _reload_models, before a claim, never
        between a claim and its round: a round runs the models whose memory it read."""
        return await store.claim(
            self.settings.worker_id, self.settings.max_jobs_per_round, self.pool.memory_models()
        )

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
            except Exception as exc:
                if connection_lost(exc):
                    raise
                log.error("heartbeat or rescue failed, retrying at the next beat: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=settings.heartbeat_interval_s)

    async def _session(self) -> None:
        """One connected stretch: serve and beat until stopped or the connection breaks."""
        self._serving = False
        store, aux_store = await self._connect()
        self._serving = True
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
            except Exception as exc:
                # A lost connection, or (the last resort: nothing should raise this far) an
                # error no handler foresaw. Either way the worker starts a fresh session; what it
                # held is given back on connecting, within max_attempts, so a job that keeps
                # ending sessions goes dead instead of taking the worker down with it.
                if connection_lost(exc):
                    self.stats.reconnects += 1
                    log.warning(
                        "database connection lost (%s); reconnecting in %.1fs", exc, backoff
                    )
                elif not self._serving:
                    raise  # it cannot even start (a refused login, a missing schema): exit
                else:
                    self.stats.restarts += 1
                    log.exception("unexpected error; starting a new session in %.1fs", backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = self.settings.reconnect_backoff_s
        log.info(
            "worker %s stopped: %d jobs in %d rounds; %d model checks, %d model files fetched",
            self.settings.worker_id,
            self.stats.jobs_done,
            self.stats.rounds,
            self.pool.checks,
            self.pool.fetches,
        )
        return self.stats
