-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_purge_job_history'; END IF; END $$;
-- pg_cron deletes the history of the product's jobs past jobs.history_seconds every minute (about
-- 130 runs a minute to delete). Scheduled only where pg_cron is installed (ragnarok_ml); elsewhere
-- there is no history to delete.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_purge_job_history', '* * * * *', 'SELECT ml.purge_job_history()');
    END IF;
END;
$$;
