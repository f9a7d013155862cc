-- drop: DROP FUNCTION IF EXISTS ml.purge_cutoff(text, integer);
-- Where a history purge (ml.purge_job_history, ml.purge_coordination_logs) starts: the moment
-- before which its rows are past the window that the ml.config setting `window_key` gives in
-- seconds. Checks the purge's limit first: max_rows must be a positive number (22023).
CREATE FUNCTION ml.purge_cutoff(window_key text, max_rows integer) RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'max_rows must be a positive number, got %', coalesce(max_rows::text, 'null')
            USING ERRCODE = '22023';
    END IF;
    RETURN clock_timestamp() - make_interval(secs => ml.config_number(window_key));
END;
$$;
