-- drop: DROP FUNCTION IF EXISTS ml.despawn_monster(integer);
-- Removes a monster: its row, its Monster vertex, every edge it had (pack edges, signals sent and
-- pending), and re-forms its map's packs (ml.mirror_despawned_monsters).
-- Errors: P0002 unknown monster.
CREATE FUNCTION ml.despawn_monster(monster_id integer) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    DELETE FROM ml.monsters m WHERE m.id = monster_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown monster %', coalesce(monster_id::text, 'null')
            USING ERRCODE = 'P0002', HINT = 'monsters exist once ml.sync_monsters has sent them';
    END IF;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.despawn_monster(integer) TO ml_user;
