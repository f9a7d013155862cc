-- drop: DROP FUNCTION IF EXISTS ml.monster_vertex(integer);
-- The Monster vertex id of a synced monster; P0002 for a monster the game server never synced (or
-- despawned). Every API function that takes a monster id starts here.
CREATE FUNCTION ml.monster_vertex(monster_id integer) RETURNS ag_catalog.graphid
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
DECLARE
    found_vertex ag_catalog.graphid;
BEGIN
    SELECT m.vertex_id INTO found_vertex FROM ml.monsters m WHERE m.id = monster_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown monster %', coalesce(monster_id::text, 'null')
            USING ERRCODE = 'P0002', HINT = 'monsters exist once ml.sync_monsters has sent them';
    END IF;
    RETURN found_vertex;
END;
$$;
