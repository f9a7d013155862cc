-- drop: DROP FUNCTION IF EXISTS ml.signals_received_by_batch(integer[]);
-- The SIGNALS edges (live or not: ml.signal_entries tests expiry) received by a batch of monsters,
-- as (ord, properties): ord is the receiver's 1-based place in monster_ids. One index scan over the
-- batch's array of vertices (PostgreSQL 17 reads neighbouring keys of an array from one leaf page),
-- matched back by hash; ml.signal_entries takes its edges here beyond 16 monsters. Measured per
-- call of ml.signal_entries, 256 monsters: 0.10-0.13 ms, against 0.29 ms probing monster by monster;
-- for a pack of 5 the probes win (18 us against 34 us), hence the two.
CREATE FUNCTION ml.signals_received_by_batch(monster_ids integer[])
RETURNS TABLE (ord integer, properties ag_catalog.agtype)
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_mergejoin = off
SET enable_hashjoin = on  -- its callers turn it off for their probes
AS $$
BEGIN
    RETURN QUERY
    WITH asked AS MATERIALIZED (
        SELECT u.ord::integer AS ord, m.vertex_id
        FROM unnest(monster_ids) WITH ORDINALITY AS u(id, ord)
        JOIN ml.monsters m ON m.id = u.id
    )
    SELECT a.ord, b.properties
    FROM (SELECT sig.end_id, sig.properties
          FROM monster_ai."SIGNALS" sig
          WHERE sig.end_id = ANY (ARRAY(SELECT vertex_id FROM asked))
          OFFSET 0) AS b
    JOIN asked AS a ON a.vertex_id = b.end_id;
END;
$$;
