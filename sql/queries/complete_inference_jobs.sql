-- Write a round's answers in one statement: job rows, gateway responses, gateway request status and
-- the ml_decisions notifications. Only jobs still running under this worker ($1) are answered, so a
-- worker that lost its lease (and whose jobs were re-queued) can never answer a job a second time.
-- Per job: $2 ids, $3 statuses ('done' | 'failed'), $4 errors, $5 its first monster's position in
-- the per-monster arrays and $6 how many it has (0 when it failed), $7 coordination scores,
-- $8 model versions, $9 inference times (ms), $10 whether it has reasons, $15 whether its actions
-- are legacy gateway action ids already (a gateway job answered by the archetype's combat model)
-- rather than pack actions to map through ml.legacy_action_map. Per monster, every job's monsters
-- back to back: $11 actions, $12 confidences, $13 coordinated, $14 reasons. Per recurrent state to
-- keep (ml.monster_memory, shared with the other workers and inline decisions): $16 its job, $17
-- the model that made it, $18 the monster, $19 the state (hidden_dim float32 little-endian).
WITH answers AS (
    SELECT a.*,
           CASE WHEN a.n > 0 THEN $11::smallint[] END AS all_actions,
           CASE WHEN a.n > 0 THEN $12::real[] END AS all_confidences,
           CASE WHEN a.n > 0 THEN $13::boolean[] END AS all_coordinated,
           CASE WHEN a.n > 0 AND a.with_reasons THEN $14::text[] END AS all_reasons
    FROM unnest($2::bigint[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::real[],
                $8::text[], $9::real[], $10::boolean[], $15::boolean[])
        AS a(id, status, error, lo, n, score, version, ms, with_reasons, legacy)
), finished AS (
    UPDATE ml.inference_jobs AS j
    SET status = a.status, error = a.error, finished_at = clock_timestamp(),
        actions = a.all_actions[a.lo:a.lo + a.n - 1],
        confidences = a.all_confidences[a.lo:a.lo + a.n - 1],
        coordinated = a.all_coordinated[a.lo:a.lo + a.n - 1],
        reasons = a.all_reasons[a.lo:a.lo + a.n - 1],
        coordination_score = a.score, model_version = a.version, inference_ms = a.ms
    FROM answers AS a
    WHERE j.id = a.id AND j.worker_id = $1 AND j.status = 'running'
    RETURNING j.id, j.kind, j.gateway_request_id, j.status, j.error, j.monster_ids, j.actions,
              j.confidences, j.coordinated, j.reasons, j.coordination_score, j.model_version,
              j.inference_ms, coalesce(a.legacy, false) AS legacy
), responses AS (
    INSERT INTO ml.ai_responses (request_id, action_id, confidence, model_version, inference_time_ms, reason)
    SELECT f.gateway_request_id,
           coalesce(l.action, 255),
           CASE WHEN l.action IS NULL THEN 0 ELSE f.confidences[1] END,
           f.model_version,
           f.inference_ms,
           coalesce(f.error, f.reasons[1])
    FROM finished AS f
    LEFT JOIN ml.legacy_action_map AS m
        ON f.status = 'done' AND NOT f.legacy AND m.pack_action = f.actions[1]
    -- The legacy action id, null for the traditional AI (255: no model, a failed job, an output
    -- that was not finite).
    CROSS JOIN LATERAL (
        SELECT CASE WHEN f.status <> 'done' THEN NULL
                    WHEN f.legacy THEN nullif(f.actions[1], 255)
                    ELSE m.legacy_action
               END AS action
    ) AS l
    -- A gateway job without its request (only a row written past the API) has nowhere else to
    -- be answered than its own row.
    WHERE f.kind = 'gateway' AND f.gateway_request_id IS NOT NULL
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), settled AS (
    -- Requests a game-server session holds locked (its UPDATE (status) grant allows FOR UPDATE)
    -- are skipped, never waited for: their answers are in ai_responses all the same, and the
    -- status follows on a later round (sql/queries/settle_gateway_status.sql).
    SELECT q.request_id, q.status AS request_status, f.status
    FROM ml.ai_requests AS q
    JOIN finished AS f ON q.request_id = f.gateway_request_id
    FOR UPDATE OF q SKIP LOCKED
), gateway_status AS (
    UPDATE ml.ai_requests AS q
    SET status = CASE WHEN s.status = 'done' THEN 'completed' ELSE 'failed' END
    FROM settled AS s
    WHERE q.request_id = s.request_id AND s.request_status = 'pending'
    RETURNING q.request_id
), remembered AS (
    -- Only the states of jobs this statement finished: a worker that lost its lease writes no
    -- memory over that of the worker answering the job now. No call at all in a round without
    -- states (gateway jobs, models without GRU).
    SELECT ml.write_monster_memory(array_agg(k.model_id ORDER BY k.ord),
                                   array_agg(k.monster_id ORDER BY k.ord),
                                   array_agg(k.hidden ORDER BY k.ord)) AS written
    FROM unnest($16::bigint[], $17::bigint[], $18::integer[], $19::bytea[])
        WITH ORDINALITY AS k(job_id, model_id, monster_id, hidden, ord)
    WHERE k.job_id IN (SELECT f.id FROM finished AS f WHERE f.status = 'done')
    HAVING count(*) > 0
), notified AS (
    SELECT pg_notify('ml_decisions',
                     ml.decision_payload(f.id, f.status, f.error, f.monster_ids, f.actions,
                                         f.confidences, f.coordinated, f.reasons,
                                         f.coordination_score, f.model_version, f.inference_ms))
    FROM finished AS f
    WHERE f.kind = 'pack'
)
SELECT (SELECT count(*) FROM finished) AS finished,
       (SELECT count(*) FROM responses) AS gateway_answers,
       (SELECT count(*) FROM notified) AS notified,
       -- Referenced so that it runs (a CTE that only reads runs when read).
       coalesce((SELECT r.written FROM remembered AS r), 0) AS remembered,
       -- Answered gateway requests whose rows were locked (settled skipped them):
       -- sql/queries/settle_gateway_status.sql takes them up.
       (SELECT coalesce(array_agg(f.gateway_request_id), '{}')
        FROM finished AS f
        WHERE f.kind = 'gateway' AND f.gateway_request_id IS NOT NULL
          AND f.gateway_request_id NOT IN (SELECT s.request_id FROM settled AS s)) AS unsettled
