-- drop: DROP FUNCTION IF EXISTS ml.signal_vector(integer);
-- A monster's live signals as the 32 floats its actor reads (docs/signal_encoding.md): each live
-- signal's encoding, stored on its edge when it was sent by plpython/signal_encoding.py (the module
-- training uses), the strongest per dimension. All zeros: no live signal. P0002: unknown monster.
-- The batch path of a decision request for one monster (ml.signal_vectors over ml.signal_entries):
-- one query, no encoder call, on the game server's hot path.
CREATE FUNCTION ml.signal_vector(monster_id integer) RETURNS real[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    PERFORM ml.monster_vertex(monster_id);  -- P0002 when unknown
    RETURN ARRAY(SELECT u.weight
                 FROM unnest(ml.signal_vectors(ARRAY[monster_id])) WITH ORDINALITY AS u(weight, k)
                 ORDER BY u.k);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.signal_vector(integer) TO ml_user, ml_worker;
