-- drop: DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'ml_form_dirty_packs'; END IF; END $$;
-- pg_cron re-forms the packs of maps whose monsters moved, every second (spawns, deaths, map
-- changes and despawns re-form at once, in the ml.monsters triggers). Scheduled only where pg_cron
-- is installed (ragnarok_ml); elsewhere call `CALL ml.form_dirty_packs()`.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        PERFORM cron.schedule('ml_form_dirty_packs', '1 second', 'CALL ml.form_dirty_packs()');
    END IF;
END;
$$;
