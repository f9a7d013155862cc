-- drop: DROP FUNCTION IF EXISTS ml.pack_groups(integer[]);
-- The body of ml.detect_pack_formation, in PL/pgSQL so its plan is cached per session. The batch
-- is checked first (ml.check_monster_ids): ML008 not one-dimensional, ML009 more than
-- limits.request_monsters (1024) ids, 22004 a null id.
CREATE FUNCTION ml.pack_groups(batch integer[])
RETURNS TABLE (leader integer, members integer[])
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    PERFORM ml.check_monster_ids(batch, 'monster_ids', 'limits.request_monsters');
    RETURN QUERY
    WITH requested AS (
        -- ml.monster_vertex raises P0002 for a monster that was never synced.
        SELECT DISTINCT u.id, ml.monster_vertex(u.id) AS vertex_id
        FROM unnest(batch) AS u(id)
    ),
    placed AS (
        -- Per monster, index lookups only (LIMIT 1 keeps each sub-select a per-row probe, never
        -- a hash of the whole edge label).
        SELECT b.id,
               CASE WHEN (SELECT 1 FROM monster_ai."LEADS" e
                          WHERE e.start_id = b.vertex_id LIMIT 1) IS NOT NULL
                    THEN b.id
                    ELSE (SELECT min(s.id) FROM ml.monsters s
                          WHERE s.vertex_id = ANY (ARRAY(SELECT e.start_id FROM monster_ai."LEADS" e
                                                         WHERE e.end_id = b.vertex_id)))
               END AS pack_leader,
               (SELECT min(t.id) FROM ml.monsters t
                WHERE t.vertex_id = ANY (ARRAY(SELECT e.end_id FROM monster_ai."TEAMMATE_OF" e
                                               WHERE e.start_id = b.vertex_id))) AS first_mate
        FROM requested b
    )
    SELECT p.pack_leader, array_agg(p.id ORDER BY p.id)
    FROM placed p
    GROUP BY p.pack_leader,
             CASE WHEN p.pack_leader IS NULL THEN least(p.id, p.first_mate) END,
             CASE WHEN p.pack_leader IS NULL AND p.first_mate IS NULL THEN p.id END
    ORDER BY min(p.id);
END;
$$;
