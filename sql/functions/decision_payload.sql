-- drop: DROP FUNCTION IF EXISTS ml.decision_payload(bigint, text, jsonb, text);
-- The ml_decisions notification for a finished pack job:
--   {"job_id", "status", "actions": [...], "coordination_score", "error"}
-- NOTIFY payloads are capped near 8000 bytes; a larger answer (a batch of hundreds of monsters) is
-- announced without its actions ("truncated": true) and read with ml.decision_result(job_id).
CREATE FUNCTION ml.decision_payload(job_id bigint, status text, result jsonb, error text) RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = ml, pg_catalog
AS $$
    SELECT CASE WHEN octet_length(full_payload) <= 7900 THEN full_payload
                ELSE jsonb_build_object('job_id', job_id, 'status', status, 'truncated', true)::text END
    FROM (SELECT (jsonb_build_object('job_id', job_id, 'status', status, 'error', error)
                  || coalesce(result, '{}'::jsonb))::text AS full_payload) AS p
$$;
GRANT EXECUTE ON FUNCTION ml.decision_payload(bigint, text, jsonb, text) TO ml_worker;
