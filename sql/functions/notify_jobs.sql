-- drop: DROP FUNCTION IF EXISTS ml.notify_jobs() CASCADE;
-- NOTIFY only wakes workers; they always re-read the queue tables (a notification is lost while a
-- worker is disconnected, so they poll as a backstop too). An empty payload lets PostgreSQL fold the
-- notifications of one transaction into one. Decision jobs wake workers through
-- ml.wake_idle_workers instead, which notifies only when a worker is idle.
CREATE FUNCTION ml.notify_jobs() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER training_jobs_notify AFTER INSERT ON ml.ml_training_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION ml.notify_jobs('ml_training');
