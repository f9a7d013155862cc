-- Take decision jobs back from a worker: those whose worker stopped heartbeating for $1 seconds
-- (killed, frozen, cut off), or, when $2 names a worker, the jobs $3 it holds and could not answer
-- ($4: why). Each goes back to the queue for another attempt, or dead once out of attempts, and is
-- still answered: a gateway request gets action 255 and its ai_requests row status 'failed', a pack
-- request a notification with status "dead", so no caller waits for an answer that never comes.
WITH stale AS (
    UPDATE ml.inference_jobs
    SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
        error = coalesce($4::text || format(' (attempt %s of %s)', attempts, max_attempts),
                         format('worker %s stopped heartbeating (attempt %s of %s)',
                                worker_id, attempts, max_attempts)),
        worker_id = NULL,
        finished_at = CASE WHEN attempts >= max_attempts THEN clock_timestamp() END
    WHERE id IN (
        -- SKIP LOCKED: a row locked now is being answered; waiting on it could deadlock with
        -- that multi-row answer, and the next rescue sees it again if it is really abandoned.
        SELECT id FROM ml.inference_jobs
        WHERE status = 'running'
          AND CASE WHEN $2::text IS NULL
                   THEN heartbeat_at < clock_timestamp() - make_interval(secs => $1)
                   ELSE worker_id = $2::text AND id = ANY ($3::bigint[]) END
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, kind, status, gateway_request_id, error
), dead_gateway AS (
    INSERT INTO ml.ai_responses (request_id, action_id, confidence, reason)
    SELECT gateway_request_id, 255, 0, error FROM stale
    WHERE kind = 'gateway' AND status = 'dead' AND gateway_request_id IS NOT NULL
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), dead_request AS (
    -- The gateway reads ai_responses; its request row says how it ended, as an answered one does
    -- ('failed': the status the table allows for a request that got no decision). A request a
    -- game-server session holds locked is skipped, never waited for: its answer is written all
    -- the same.
    UPDATE ml.ai_requests AS q SET status = 'failed'
    FROM (
        SELECT l.request_id FROM ml.ai_requests AS l
        JOIN stale AS d ON l.request_id = d.gateway_request_id
        WHERE d.kind = 'gateway' AND d.status = 'dead' AND l.status = 'pending'
        FOR UPDATE OF l SKIP LOCKED
    ) AS dead
    WHERE q.request_id = dead.request_id
), dead_pack AS (
    SELECT pg_notify('ml_decisions', ml.decision_payload(id, status, error, NULL, NULL, NULL, NULL,
                                                         NULL, NULL, NULL, NULL))
    FROM stale WHERE kind = 'pack' AND status = 'dead'
), wake AS (
    SELECT pg_notify('ml_jobs', '') WHERE EXISTS (SELECT 1 FROM stale WHERE status = 'pending')
)
SELECT (SELECT count(*) FROM stale WHERE status = 'pending') AS requeued,
       (SELECT count(*) FROM stale WHERE status = 'dead') AS dead,
       (SELECT count(*) FROM dead_gateway) + (SELECT count(*) FROM dead_pack) + (SELECT count(*) FROM wake) AS side_effects
