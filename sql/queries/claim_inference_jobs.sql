-- Claim every pending decision job (up to $2) for worker $1 in one statement. SKIP LOCKED lets
-- workers side by side claim disjoint sets without waiting on each other. The claim also says
-- whether the worker is idle (ml.workers.waiting, read by ml.wake_idle_workers): one that found
-- jobs is busy and gets no NOTIFY; one that found none is about to sleep, and from the commit of
-- this statement on, new jobs NOTIFY it (a separate statement before cost each idle worker one
-- more round trip between its last answer and its sleep).
-- max_attempts holds here too: a pending job that has used all its attempts (put back by hand, or
-- re-queued by a release that did not check them) is claimed without a new attempt and returned
-- `exhausted`; the worker gives it straight back through the rescue query, which makes it dead
-- and answers it as every dead job is answered.
WITH claimed AS (
    UPDATE ml.inference_jobs AS j
    SET status = 'running',
        worker_id = $1,
        attempts = CASE WHEN picked.exhausted THEN j.attempts ELSE j.attempts + 1 END,
        heartbeat_at = clock_timestamp(),
        started_at = coalesce(j.started_at, clock_timestamp())
    FROM (
        SELECT id, attempts >= max_attempts AS exhausted FROM ml.inference_jobs
        WHERE status = 'pending'
        ORDER BY priority, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ) AS picked
    WHERE j.id = picked.id
    -- The floats in their binary send format, or packed as the game server sent them: the
    -- worker reads either with one numpy call (worker/pgarrays.py) instead of one Python float
    -- each.
    RETURNING j.id, j.kind, j.monster_ids, j.archetypes, array_send(j.states) AS states,
              j.states_f32,
              j.signal_rows, j.signal_dims, array_send(j.signal_weights) AS signal_weights,
              j.pack_leader_ids, j.attempts, j.max_attempts, j.gateway_request_id,
              picked.exhausted
), idle AS (
    SELECT NOT EXISTS (SELECT 1 FROM claimed) AS idle
), marked AS (
    UPDATE ml.workers AS w SET waiting = i.idle
    FROM idle AS i
    WHERE w.worker_id = $1 AND w.waiting IS DISTINCT FROM i.idle AND w.status = 'running'
)
SELECT * FROM claimed
