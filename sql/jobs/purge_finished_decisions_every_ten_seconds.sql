-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_purge_finished_decisions'; END IF; END $$;
-- pg_cron purges finished decision jobs past their retention every ten seconds (at 1,000 requests
-- a second, 10,000 jobs a run, below the function's 20,000 a call). Scheduled only where pg_cron
-- is installed (ragnarok_ml); elsewhere call `SELECT ml.purge_finished_decisions()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_purge_finished_decisions', '10 seconds',
                              'SELECT ml.purge_finished_decisions()');
    END IF;
END;
$$;
