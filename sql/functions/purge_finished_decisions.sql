-- drop: DROP FUNCTION IF EXISTS ml.purge_finished_decisions(integer);
-- A finished decision job (done, failed, dead, cancelled) stays queues.retention_seconds
-- (ml.config) after it finished, for ml.decision_result and the diagnostics views; then it goes,
-- with the legacy gateway's request and its answer. A queue that only grows makes every vacuum of it, and every index, slower: at 1,000
-- requests a second, 86 million rows a day in each of the three tables. Oldest first, by the
-- index on finished_at, at most max_rows a call, so that a backlog goes over several runs of the
-- pg_cron job instead of one long transaction. A job not finished is never touched: a gateway
-- request the gateway marked 'timeout' stays until its answer is written. Returns the number of
-- jobs deleted.
CREATE FUNCTION ml.purge_finished_decisions(max_rows integer DEFAULT 20000) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := clock_timestamp()
        - make_interval(secs => ml.config_number('queues.retention_seconds'));
    purged integer;
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be a positive number, got %', coalesce(max_rows::text, 'null')
            USING ERRCODE = '22023';
    END IF;
    WITH doomed AS (
        SELECT j.id, j.gateway_request_id
        FROM ml.inference_jobs AS j
        WHERE j.finished_at < cutoff
        ORDER BY j.finished_at
        LIMIT max_rows
    ), requests AS (
        DELETE FROM ml.ai_requests AS q USING doomed AS d
        WHERE q.request_id = d.gateway_request_id
    ), responses AS (
        DELETE FROM ml.ai_responses AS r USING doomed AS d
        WHERE r.request_id = d.gateway_request_id
    )
    DELETE FROM ml.inference_jobs AS j USING doomed AS d WHERE j.id = d.id;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
