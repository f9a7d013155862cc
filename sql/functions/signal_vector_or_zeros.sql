-- drop: DROP FUNCTION IF EXISTS ml.signal_vector_or_zeros(integer);
-- ml.signal_vector for a monster the game server may never have synced (the legacy gateway sends
-- monsters the product has not seen): 32 zeros instead of an error, so a gateway INSERT never fails.
CREATE FUNCTION ml.signal_vector_or_zeros(monster_id integer) RETURNS real[]
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog
AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM ml.monsters m WHERE m.id = monster_id)
                THEN ml.signal_vector(monster_id)
                ELSE array_fill(0::real, ARRAY[32]) END
$$;
