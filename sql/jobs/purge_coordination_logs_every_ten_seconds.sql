-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_purge_coordination_logs'; END IF; END $$;
-- pg_cron purges coordination logs past their retention every ten seconds (up to 20,000 rows a
-- run: 2,000 signals a second). Scheduled only where pg_cron is installed (ragnarok_ml); elsewhere
-- call `SELECT ml.purge_coordination_logs()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_purge_coordination_logs', '10 seconds',
                              'SELECT ml.purge_coordination_logs()');
    END IF;
END;
$$;
