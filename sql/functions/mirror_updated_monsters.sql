-- drop: DROP FUNCTION IF EXISTS ml.mirror_updated_monsters() CASCADE;
-- Keeps each Monster vertex equal to its row, whoever writes ml.monsters: only vertices whose
-- mirrored fields changed are rewritten. Deaths, revivals and map changes re-form the packs of the
-- maps involved at once (a leader's death promotes the next); plain moves wait for the per-second
-- formation job.
CREATE FUNCTION ml.mirror_updated_monsters() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = on  -- the transition tables join by hash; everything else is by index
AS $$
DECLARE
    vertices ag_catalog.graphid[];
    new_properties ag_catalog.agtype[];
    maps integer[];
BEGIN
    -- Planned at every firing (EXECUTE of a constant text, ~0.1 ms), with the sizes of this
    -- statement's transition tables: a plan cached in the session keeps the sizes of the firing
    -- that made it. A game server's first sync after a start spawns everyone (its update fires
    -- this with no rows), and the join planned then compared each changed row with every other
    -- at each later sync (2,000 monsters: 0.4 s; bench/spawn_wave.py).
    EXECUTE $sql$
        SELECT array_agg(n.vertex_id),
               array_agg(ml.monster_vertex_properties(n.id, n.mob_id, n.archetype, n.map_id, n.x,
                                                      n.y, n.hp_ratio, n.leadership_score)),
               -- Not DISTINCT: that sorts every changed row; ml.form_packs de-duplicates the maps.
               array_agg(o.map_id) FILTER (WHERE (o.hp_ratio > 0) <> (n.hp_ratio > 0)
                                            OR o.map_id <> n.map_id)
               || array_agg(n.map_id) FILTER (WHERE (o.hp_ratio > 0) <> (n.hp_ratio > 0)
                                               OR o.map_id <> n.map_id)
        FROM after_rows n
        JOIN before_rows o ON o.id = n.id
        WHERE (o.mob_id, o.archetype, o.map_id, o.x, o.y, o.hp_ratio, o.leadership_score)
              IS DISTINCT FROM
              (n.mob_id, n.archetype, n.map_id, n.x, n.y, n.hp_ratio, n.leadership_score)
    $sql$ INTO vertices, new_properties, maps;

    -- Through arrays, each changed vertex by its id index, whatever the label's statistics say:
    -- a join of the transition table hashed the whole vertex table, and a join by equality read
    -- the label first, and the changed rows for each of its vertices, when its statistics said
    -- it was empty (as after a start's spawns). `= ANY (ARRAY[...])` is an index condition only.
    IF vertices IS NOT NULL THEN
        UPDATE monster_ai."Monster" v
        SET properties = c.new_properties
        FROM unnest(vertices, new_properties) AS c(vertex_id, new_properties)
        WHERE v.id = ANY (ARRAY[c.vertex_id]);
    END IF;

    IF maps IS NOT NULL THEN
        PERFORM ml.form_or_defer_packs(maps);  -- sorts and de-duplicates the maps itself
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER monsters_mirror_update AFTER UPDATE ON ml.monsters
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ml.mirror_updated_monsters();
