-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_expire_signals'; END IF; END $$;
-- pg_cron sweeps expired signals every second. pg_cron lives only in the database named by
-- cron.database_name (ragnarok_ml); elsewhere (test clones) there is nothing to schedule, and the
-- sweep on arrival plus ml.expire_signals() do the work.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_expire_signals', '1 second', 'SELECT ml.expire_signals()');
    END IF;
END;
$$;
