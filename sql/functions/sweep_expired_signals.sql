-- drop: DROP FUNCTION IF EXISTS ml.sweep_expired_signals(integer, text);
-- Deletes up to max_rows expired SIGNALS edges (every one when null), oldest first, through the
-- expiry index, and records the count in ml.signal_sweeps. SKIP LOCKED: two sweeps at once split
-- the work instead of queueing behind each other's row locks.
-- A bounded sweep starts above this session's mark (`ml.signal_sweep_mark`, the newest expiry it
-- has swept up to): the index keeps entries of deleted edges until vacuum, and a sweep that walked
-- them from the bottom on every send would cost more with every signal ever sent. Expired edges a
-- mark skips (another session's, locked at the time) are left to that session or to the
-- unbounded sweep of ml.expire_signals.
CREATE FUNCTION ml.sweep_expired_signals(max_rows integer, source text) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    horizon ag_catalog.agtype := ml.graph_time(ml.clock_now());
    mark ag_catalog.agtype := '""';  -- sorts below every time: no lower bound
    swept integer;
    newest text;
BEGIN
    IF max_rows IS NOT NULL
       AND coalesce(current_setting('ml.signal_sweep_mark', true), '') <> '' THEN
        mark := to_jsonb(current_setting('ml.signal_sweep_mark'))::text::ag_catalog.agtype;
        IF mark OPERATOR(ag_catalog.>) horizon THEN
            mark := '""';  -- the clock went back (a test's override): sweep from the bottom
        END IF;
    END IF;
    WITH doomed AS (
        SELECT e.ctid,
               ag_catalog.agtype_access_operator(
                   VARIADIC ARRAY[e.properties, '"expires_at"'::ag_catalog.agtype]) AS expires_at
        FROM monster_ai."SIGNALS" e
        WHERE ag_catalog.agtype_access_operator(
                  VARIADIC ARRAY[e.properties, '"expires_at"'::ag_catalog.agtype])
              OPERATOR(ag_catalog.<=) horizon
          AND ag_catalog.agtype_access_operator(
                  VARIADIC ARRAY[e.properties, '"expires_at"'::ag_catalog.agtype])
              OPERATOR(ag_catalog.>) mark
        ORDER BY 2
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED
    ),
    gone AS (
        DELETE FROM monster_ai."SIGNALS" s USING doomed d WHERE s.ctid = d.ctid
        RETURNING d.expires_at::text
    )
    SELECT count(*), max(g.expires_at) INTO swept, newest FROM gone AS g(expires_at);
    IF max_rows IS NOT NULL THEN
        -- Below the horizon everything is gone unless the limit stopped us at `newest`.
        PERFORM set_config('ml.signal_sweep_mark',
            CASE WHEN swept >= max_rows THEN newest ELSE horizon::text END, false);
    END IF;
    IF swept > 0 THEN
        INSERT INTO ml.signal_sweeps (swept_at, source, expired)
        VALUES (ml.clock_now(), source, swept);
    END IF;
    RETURN swept;
END;
$$;
