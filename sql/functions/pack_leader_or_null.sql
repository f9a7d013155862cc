-- drop: DROP FUNCTION IF EXISTS ml.pack_leader_or_null(integer);
-- The pack a monster belongs to, keyed as the seed's request grouping keys it: the leader's id, or
-- the monster's own id for an equal member (TEAMMATE_OF); null for a solo or unknown monster.
CREATE FUNCTION ml.pack_leader_or_null(monster_id integer) RETURNS integer
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog
AS $$
    SELECT CASE WHEN t.role = 'independent' THEN NULL ELSE coalesce(t.leader_id, monster_id) END
    FROM ml.monsters m, LATERAL ml.get_monster_team(m.id) AS t
    WHERE m.id = monster_id
$$;
