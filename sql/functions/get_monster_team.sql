-- drop: DROP FUNCTION IF EXISTS ml.get_monster_team(integer);
-- A monster's pack as the graph holds it, from the monster's point of view (the seed's
-- graph_manager.get_monster_team):
--   leader    leader_id = itself, follower_ids = its followers         (outgoing LEADS)
--   follower  leader_id = its leader, teammate_ids = fellow followers  (incoming LEADS)
--   member    leader_id null, teammate_ids = its teammates             (TEAMMATE_OF only)
--   independent  leader_id null, empty arrays                          (no pack edge)
-- Directed, indexed edge lookups only (no variable-length or undirected match), each written so
-- that the only plan is an index condition: edge endpoints by the monster's vertex, then monster
-- ids by `vertex_id = ANY (...)`. Errors: P0002 unknown monster.
CREATE FUNCTION ml.get_monster_team(monster_id integer)
RETURNS TABLE (leader_id integer, follower_ids integer[], teammate_ids integer[], role text)
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
    vertex ag_catalog.graphid := ml.monster_vertex(monster_id);
    led_by integer;
BEGIN
    SELECT min(s.id) INTO led_by FROM ml.monsters s
    WHERE s.vertex_id = ANY (ARRAY(SELECT e.start_id FROM monster_ai."LEADS" e
                                   WHERE e.end_id = vertex));
    follower_ids := ARRAY(
        SELECT t.id FROM ml.monsters t
        WHERE t.vertex_id = ANY (ARRAY(SELECT e.end_id FROM monster_ai."LEADS" e
                                       WHERE e.start_id = vertex))
        ORDER BY t.id);
    teammate_ids := ARRAY(
        SELECT t.id FROM ml.monsters t
        WHERE t.vertex_id = ANY (ARRAY(SELECT e.end_id FROM monster_ai."TEAMMATE_OF" e
                                       WHERE e.start_id = vertex))
        ORDER BY t.id);
    role := CASE
        WHEN cardinality(follower_ids) > 0 THEN 'leader'
        WHEN led_by IS NOT NULL THEN 'follower'
        WHEN cardinality(teammate_ids) > 0 THEN 'member'
        ELSE 'independent'
    END;
    leader_id := CASE role WHEN 'leader' THEN monster_id ELSE led_by END;
    RETURN NEXT;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.get_monster_team(integer) TO ml_user, ml_worker;
