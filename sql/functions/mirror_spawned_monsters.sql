-- drop: DROP FUNCTION IF EXISTS ml.mirror_spawned_monsters() CASCADE;
-- New monsters get their Monster vertex (with the id ml.monsters drew for it) in the same
-- statement, and their maps re-form their packs at once: a spawn changes who can hunt together.
CREATE FUNCTION ml.mirror_spawned_monsters() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    maps integer[];
BEGIN
    INSERT INTO monster_ai."Monster" (id, properties)
    SELECT n.vertex_id,
           ml.monster_vertex_properties(n.id, n.mob_id, n.archetype, n.map_id, n.x, n.y,
                                        n.hp_ratio, n.leadership_score)
    FROM spawned n;
    SELECT array_agg(DISTINCT n.map_id ORDER BY n.map_id) INTO maps FROM spawned n;
    IF maps IS NOT NULL THEN  -- a sync that spawns nobody still fires this statement trigger
        PERFORM ml.form_or_defer_packs(maps);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER monsters_mirror_spawn AFTER INSERT ON ml.monsters
    REFERENCING NEW TABLE AS spawned
    FOR EACH STATEMENT EXECUTE FUNCTION ml.mirror_spawned_monsters();
