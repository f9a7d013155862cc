-- Gateway requests ($1) whose answers were written while a game-server session held their rows
-- locked: the answer statement skips locked rows rather than wait for them (the gateway's role may
-- lock its requests FOR UPDATE), so their status follows here, on a later round, again skipping
-- what is still locked. Returns the requests still pending and locked, to try again.
WITH candidates AS (
    SELECT q.request_id
    FROM ml.ai_requests AS q
    WHERE q.request_id = ANY ($1::bigint[]) AND q.status = 'pending'
), settled AS (
    SELECT q.request_id, j.status
    FROM ml.ai_requests AS q
    JOIN ml.inference_jobs AS j ON j.gateway_request_id = q.request_id
    WHERE q.request_id = ANY ($1::bigint[]) AND q.status = 'pending'
      AND j.status IN ('done', 'failed', 'dead')
    FOR UPDATE OF q SKIP LOCKED
), updated AS (
    UPDATE ml.ai_requests AS q
    SET status = CASE WHEN s.status = 'done' THEN 'completed' ELSE 'failed' END
    FROM settled AS s
    WHERE q.request_id = s.request_id
    RETURNING q.request_id
)
SELECT coalesce(array_agg(c.request_id), '{}') AS still_locked
FROM candidates AS c
WHERE c.request_id NOT IN (SELECT u.request_id FROM updated AS u)
