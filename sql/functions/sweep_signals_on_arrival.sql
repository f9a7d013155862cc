-- drop: DROP FUNCTION IF EXISTS ml.sweep_signals_on_arrival() CASCADE;
-- New signals sweep out expired ones as they arrive. A session sweeps at most every 100 ms (its
-- last sweep time is the session setting `ml.signal_swept_at`): a busy sender then removes what
-- expired in one statement now and then instead of paying a sweep on every send, and an expired
-- edge waits at most that long (or the pg_cron second) for removal. Never read meanwhile:
-- receivers filter on expires_at. At most 1,000 edges per sweep, so no send pays for a backlog.
CREATE FUNCTION ml.sweep_signals_on_arrival() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    at timestamptz := ml.clock_now();
    last_sweep text := current_setting('ml.signal_swept_at', true);
BEGIN
    IF coalesce(last_sweep, '') = ''
       OR at - last_sweep::timestamptz >= interval '100 milliseconds'
       OR at < last_sweep::timestamptz THEN  -- the clock went back (a test's override)
        PERFORM ml.sweep_expired_signals(1000, 'arrival');
        PERFORM set_config('ml.signal_swept_at', at::text, false);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER signals_sweep_on_arrival AFTER INSERT ON monster_ai."SIGNALS"
    FOR EACH STATEMENT EXECUTE FUNCTION ml.sweep_signals_on_arrival();
