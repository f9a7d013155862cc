-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_purge_inline_answers'; END IF; END $$;
-- pg_cron purges the gateway requests answered inside their INSERT past queues.retention_seconds
-- every ten seconds, as ml_purge_finished_decisions does for those the worker answered. Scheduled
-- only where pg_cron is installed (ragnarok_ml); elsewhere call `SELECT ml.purge_inline_answers()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_purge_inline_answers', '10 seconds',
                              'SELECT ml.purge_inline_answers()');
    END IF;
END;
$$;
