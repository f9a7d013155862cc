-- drop: DROP FUNCTION IF EXISTS ml.purge_inline_answers(integer);
-- Deletes legacy gateway requests older than queues.retention_seconds that have no decision job
-- (answered inside their INSERT), with their answers, at most max_rows a call, oldest first;
-- returns how many requests. ml.purge_finished_decisions purges the requests that went through the
-- queue, with their jobs. A request a session holds locked is left for the next run.
CREATE FUNCTION ml.purge_inline_answers(max_rows integer DEFAULT 20000) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := ml.purge_cutoff('queues.retention_seconds', max_rows);
    purged integer;
BEGIN
    WITH doomed AS (
        SELECT q.request_id
        FROM ml.ai_requests AS q
        WHERE q.created_at < cutoff
          AND NOT EXISTS (SELECT 1 FROM ml.inference_jobs AS j
                          WHERE j.gateway_request_id = q.request_id)
        ORDER BY q.created_at
        LIMIT max_rows
        FOR UPDATE OF q SKIP LOCKED
    ), responses AS (
        DELETE FROM ml.ai_responses AS r USING doomed AS d WHERE r.request_id = d.request_id
    )
    DELETE FROM ml.ai_requests AS q USING doomed AS d WHERE q.request_id = d.request_id;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
