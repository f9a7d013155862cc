-- drop: DROP FUNCTION IF EXISTS ml.detect_pack_formation(integer[]);
-- Groups a batch of monsters (say, this tick's decision requests) by pack, the seed's
-- _group_requests_by_pack: one row per pack present in the batch with the batch's monsters of it
-- (sorted), and one row per monster hunting alone (pack_leader_id null, one id). A pack of equals
-- (TEAMMATE_OF without a leader; formation itself always names a leader) is one row with a null
-- pack_leader_id and several ids. Duplicates in the batch count once. P0002: unknown monster;
-- ML008 monster_ids not one-dimensional; ML009 more than limits.request_monsters (1024) ids;
-- 22004 a null id (ml.pack_groups checks the batch first).
-- LANGUAGE sql: PL/pgSQL refuses an argument and a result column of one name (monster_ids).
CREATE FUNCTION ml.detect_pack_formation(monster_ids integer[])
RETURNS TABLE (pack_leader_id integer, monster_ids integer[])
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
    SELECT g.leader, g.members FROM ml.pack_groups($1) AS g
$$;
GRANT EXECUTE ON FUNCTION ml.detect_pack_formation(integer[]) TO ml_user, ml_worker;
