-- drop: DROP FUNCTION IF EXISTS ml.expire_signals();
-- Removes every expired signal now and returns how many. pg_cron runs it every second in
-- ragnarok_ml; operators and tests may call it any time. Also drops sweep records older than a day.
CREATE FUNCTION ml.expire_signals() RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
DECLARE
    swept integer := ml.sweep_expired_signals(NULL, 'sweep');
BEGIN
    DELETE FROM ml.signal_sweeps WHERE swept_at < ml.clock_now() - interval '1 day';
    RETURN swept;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.expire_signals() TO ml_user, ml_worker;
