-- Worker $1 (re)connected: whatever it still holds was dropped by its previous connection or
-- process (lost mid-batch, killed, crashed on a round): give it back now instead of waiting for the
-- lease to expire. max_attempts holds as in the rescue query: a job that has used its attempts goes
-- dead with the reason and is answered (a gateway request gets action 255 and status 'failed', a
-- pack request a notification with status "dead"); the others go back to the queue. Without this a
-- job that crashed its worker was re-claimed by every restart of a worker with a fixed id (seen:
-- attempts 6 of 3, still 'running'). Not SKIP LOCKED, unlike the rescue: a row still locked by the
-- old connection is waited for, since this worker's heartbeat would keep it alive otherwise.
-- Returns how many went back to the queue and how many went dead.
WITH released AS (
    UPDATE ml.inference_jobs
    SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
        error = format('worker %s restarted while holding it (attempt %s of %s)',
                       worker_id, attempts, max_attempts),
        worker_id = NULL,
        finished_at = CASE WHEN attempts >= max_attempts THEN clock_timestamp() END
    WHERE worker_id = $1 AND status = 'running'
    RETURNING id, kind, status, gateway_request_id, error
), dead_gateway AS (
    INSERT INTO ml.ai_responses (request_id, action_id, confidence, reason)
    SELECT gateway_request_id, 255, 0, error FROM released
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
        JOIN released AS d ON l.request_id = d.gateway_request_id
        WHERE d.kind = 'gateway' AND d.status = 'dead' AND l.status = 'pending'
        FOR UPDATE OF l SKIP LOCKED
    ) AS dead
    WHERE q.request_id = dead.request_id
), dead_pack AS (
    SELECT pg_notify('ml_decisions', ml.decision_payload(id, status, error, NULL, NULL, NULL, NULL,
                                                         NULL, NULL, NULL, NULL))
    FROM released WHERE kind = 'pack' AND status = 'dead'
), wake AS (
    SELECT pg_notify('ml_jobs', '') WHERE EXISTS (SELECT 1 FROM released WHERE status = 'pending')
)
SELECT (SELECT count(*) FROM released WHERE status = 'pending') AS released,
       (SELECT count(*) FROM released WHERE status = 'dead') AS dead,
       (SELECT count(*) FROM dead_gateway) + (SELECT count(*) FROM dead_pack)
           + (SELECT count(*) FROM wake) AS side_effects
