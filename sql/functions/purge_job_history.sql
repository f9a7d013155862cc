-- drop: DROP FUNCTION IF EXISTS ml.purge_job_history(integer);
-- pg_cron records every run of every job in cron.job_run_details (start, end, status, error) and
-- never deletes one: the product's jobs (two every second, two every ten seconds, one a minute)
-- add about 190,000 rows a day.
-- The runs of the product's jobs (named ml_*) that ended jobs.history_seconds (ml.config) ago go,
-- oldest first, at most max_rows a call; a run that never recorded its end (a server stopped
-- under it) goes by its start. Other jobs' history is left to whoever scheduled them. Where
-- pg_cron is not installed (every database but the one cron.database_name names) there is no
-- history: 0. Returns the number of runs deleted.
CREATE FUNCTION ml.purge_job_history(max_rows integer DEFAULT 20000) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := ml.purge_cutoff('jobs.history_seconds', max_rows);
    purged integer;
BEGIN
    IF to_regclass('cron.job_run_details') IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM cron.job_run_details AS d
    WHERE d.runid IN (
        SELECT r.runid
        FROM cron.job_run_details AS r
        JOIN cron.job AS j ON j.jobid = r.jobid
        WHERE j.jobname LIKE 'ml\_%' AND coalesce(r.end_time, r.start_time) < cutoff
        ORDER BY r.runid
        LIMIT max_rows);
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
