-- drop: DROP FUNCTION IF EXISTS ml.clock_now();
-- The time every coordination function reads (signal sent, expiry, sweeps, pack formation). It is
-- now() unless a superuser session sets `ml.clock_override` (a timestamptz): tests move the clock
-- instead of sleeping out a TTL. Other roles' overrides are ignored, so the game server cannot make
-- its signals outlive their TTL. PL/pgSQL, not SQL: its plans are cached per session (a SQL
-- function with a sub-select is planned again at every call).
CREATE FUNCTION ml.clock_now() RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    override text := current_setting('ml.clock_override', true);
BEGIN
    IF coalesce(override, '') = '' THEN
        RETURN now();
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user) THEN
        RETURN override::timestamptz;
    END IF;
    RETURN now();
END;
$$;
