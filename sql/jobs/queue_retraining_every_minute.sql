-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_queue_retraining'; END IF; END $$;
-- pg_cron queues retraining from recorded experience every minute (ml.queue_retraining). Scheduled
-- only where pg_cron is installed (ragnarok_ml); elsewhere call `SELECT ml.queue_retraining()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_queue_retraining', '* * * * *', 'SELECT ml.queue_retraining()');
    END IF;
END;
$$;
