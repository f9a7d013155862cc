-- drop: DROP FUNCTION IF EXISTS ml.mirror_despawned_monsters() CASCADE;
-- A despawned monster leaves the graph with every edge it had (pack edges and signals, sent or
-- pending), and its map re-forms its packs at once: a pack under 2 dissolves, a lost leader is
-- replaced.
CREATE FUNCTION ml.mirror_despawned_monsters() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    vertices ag_catalog.graphid[];
    maps integer[];
BEGIN
    SELECT array_agg(d.vertex_id), array_agg(DISTINCT d.map_id) INTO vertices, maps FROM despawned d;
    -- The maps' formation locks before any edge is deleted (ml.lock_pack_maps says why).
    PERFORM ml.lock_pack_maps(maps);
    -- _ag_label_edge is the parent of every edge label: one statement per endpoint column, each
    -- through that column's index on every label.
    DELETE FROM monster_ai._ag_label_edge e WHERE e.start_id = ANY (vertices);
    DELETE FROM monster_ai._ag_label_edge e WHERE e.end_id = ANY (vertices);
    DELETE FROM monster_ai."Monster" v WHERE v.id = ANY (vertices);
    IF maps IS NOT NULL THEN
        PERFORM ml.form_packs(maps);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER monsters_mirror_despawn AFTER DELETE ON ml.monsters
    REFERENCING OLD TABLE AS despawned
    FOR EACH STATEMENT EXECUTE FUNCTION ml.mirror_despawned_monsters();
