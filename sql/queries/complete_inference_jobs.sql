-- Write a round's answers in one statement: job rows, gateway responses, gateway request status and
-- the ml_decisions notifications. Only jobs still running under this worker ($1) are answered, so a
-- worker that lost its lease (and whose jobs were re-queued) can never answer a job a second time.
-- $2 ids, $3 statuses ('done' | 'failed'), $4 results (jsonb), $5 errors.
WITH answers AS (
    SELECT * FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::text[])
        AS a(id, status, result, error)
), finished AS (
    UPDATE ml.inference_jobs AS j
    SET status = a.status, result = a.result, error = a.error, finished_at = clock_timestamp()
    FROM answers AS a
    WHERE j.id = a.id AND j.worker_id = $1 AND j.status = 'running'
    RETURNING j.id, j.kind, j.gateway_request_id, j.status, j.result, j.error
), responses AS (
    INSERT INTO ml.ai_responses (request_id, action_id, confidence, model_version, inference_time_ms, reason)
    SELECT f.gateway_request_id,
           coalesce(m.legacy_action, 255),
           CASE WHEN m.legacy_action IS NULL THEN 0
                ELSE (f.result -> 'actions' -> 0 ->> 'confidence')::real END,
           f.result ->> 'model_version',
           (f.result ->> 'inference_ms')::real,
           coalesce(f.error, f.result -> 'actions' -> 0 ->> 'reason')
    FROM finished AS f
    LEFT JOIN ml.legacy_action_map AS m
        ON f.status = 'done' AND m.pack_action = (f.result -> 'actions' -> 0 ->> 'action')::integer
    WHERE f.kind = 'gateway'
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), gateway_status AS (
    UPDATE ml.ai_requests AS q
    SET status = CASE WHEN f.status = 'done' THEN 'completed' ELSE 'failed' END
    FROM finished AS f
    WHERE q.request_id = f.gateway_request_id AND q.status = 'pending'
    RETURNING q.request_id
), notified AS (
    SELECT pg_notify('ml_decisions', ml.decision_payload(f.id, f.status, f.result, f.error))
    FROM finished AS f
    WHERE f.kind = 'pack'
)
SELECT (SELECT count(*) FROM finished) AS finished,
       (SELECT count(*) FROM responses) AS gateway_answers,
       (SELECT count(*) FROM notified) AS notified
