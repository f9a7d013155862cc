-- drop: DROP FUNCTION IF EXISTS ml.receive_signals(integer);
-- The live signals a monster has received, most urgent first (priority, then newest). An expired
-- signal is never returned, swept or not. P0002: unknown monster.
CREATE FUNCTION ml.receive_signals(monster_id integer)
RETURNS TABLE (signal_type text, content jsonb, priority integer, from_monster_id integer,
               sent_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    vertex ag_catalog.graphid := ml.monster_vertex(monster_id);  -- P0002 when unknown
    horizon ag_catalog.agtype := ml.graph_time(ml.clock_now());
BEGIN
    -- The edges by their receiver's index, then each sender by its vertex: no join for the
    -- planner to turn into a scan of SIGNALS when its statistics say it is empty.
    RETURN QUERY
    SELECT (e.properties OPERATOR(ag_catalog.->) 'signal_type'::text)::text,
           ag_catalog.agtype_out(e.properties OPERATOR(ag_catalog.->) 'content'::text)::text::jsonb,
           (e.properties OPERATOR(ag_catalog.->) 'priority'::text)::integer,
           (SELECT s.id FROM ml.monsters s WHERE s.vertex_id = e.start_id),
           (e.properties OPERATOR(ag_catalog.->) 'sent_at'::text)::text::timestamptz,
           (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text)::text::timestamptz
    FROM monster_ai."SIGNALS" e
    WHERE e.end_id = vertex
      -- Spelled with -> rather than as the expiry index's expression: the planner must find the
      -- receiver's few edges by end_id, never walk every live signal by expiry.
      AND (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text) OPERATOR(ag_catalog.>) horizon
    ORDER BY 3, 5 DESC, 4;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.receive_signals(integer) TO ml_user, ml_worker;
