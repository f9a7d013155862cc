-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_purge_monster_memory'; END IF; END $$;
-- pg_cron purges recurrent memory past serving.memory_ttl_seconds every minute. Scheduled only where
-- pg_cron is installed (ragnarok_ml); elsewhere call `SELECT ml.purge_monster_memory()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_purge_monster_memory', '* * * * *',
                              'SELECT ml.purge_monster_memory()');
    END IF;
END;
$$;
