-- drop: DROP FUNCTION IF EXISTS ml.pack_keys_of_batch(integer[]);
-- ml.pack_keys for a batch (more than 16 monsters), set-based: one index scan per table over the
-- batch's array of vertices (PostgreSQL 17 reads neighbouring keys of an array from one leaf page
-- instead of descending the tree for each), matched back by hash. keys as ml.pack_keys returns
-- them; unknown: the first monster the database does not know, any_unknown whether there is one.
-- Measured per call on 256 monsters in packs of 5: 0.34 ms, against 0.52 ms probing monster by
-- monster; on a pack of 5 the probes win (22 us against 49 us), hence the two.
CREATE FUNCTION ml.pack_keys_of_batch(monster_ids integer[], OUT keys integer[], OUT unknown integer,
                                      OUT any_unknown boolean)
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
    WITH asked AS MATERIALIZED (
        SELECT u.ord, u.id AS asked_id, m.id, m.vertex_id
        FROM unnest(monster_ids) WITH ORDINALITY AS u(id, ord)
        LEFT JOIN ml.monsters m ON m.id = u.id
    ), vertices AS MATERIALIZED (
        SELECT array_agg(vertex_id) AS ids FROM asked WHERE vertex_id IS NOT NULL
    ), leaders AS MATERIALIZED (
        SELECT DISTINCT e.start_id
        FROM vertices AS v, monster_ai."LEADS" e
        WHERE e.start_id = ANY (v.ids)
    ), led AS MATERIALIZED (
        SELECT e.end_id, min(s.id) AS leader
        FROM vertices AS v, monster_ai."LEADS" e
        JOIN ml.monsters s ON s.vertex_id = e.start_id
        WHERE e.end_id = ANY (v.ids)
        GROUP BY e.end_id
    )
    SELECT array_agg(CASE
               WHEN a.id IS NULL THEN NULL
               WHEN l.start_id IS NOT NULL THEN a.id
               -- Neither leads nor is led (a pack of equals, rare): its teammates, for it alone.
               ELSE coalesce(d.leader,
                   (SELECT CASE WHEN count(*) > 0 THEN least(a.id, min(s.id)) END
                    FROM monster_ai."TEAMMATE_OF" e
                    JOIN ml.monsters s ON s.vertex_id = e.end_id
                    WHERE e.start_id = a.vertex_id))
           END ORDER BY a.ord),
           (array_agg(a.asked_id ORDER BY a.ord) FILTER (WHERE a.id IS NULL))[1],
           coalesce(bool_or(a.id IS NULL), false)
    INTO keys, unknown, any_unknown
    FROM asked AS a
    LEFT JOIN leaders l ON l.start_id = a.vertex_id
    LEFT JOIN led d ON d.end_id = a.vertex_id;
END;
$$;
