-- drop: DROP FUNCTION IF EXISTS ml.signal_vectors(integer[]);
-- The signal vectors of a batch of monsters, n x 32 in the order given, from one query for the
-- whole batch over the encodings stored on the signal edges (ml.signal_entries, which a decision
-- request runs at submit time; ml.signal_vector is this for one monster). A monster the database does
-- not know gets 32 zeros: the callers decide whether that is an error (ml.request_pack_actions
-- raises P0002 before it gets here; the legacy gateway never raises). The batch is checked first
-- (ml.check_monster_ids): ML008 not one-dimensional, ML009 more than limits.request_monsters
-- (1024) ids, 22004 a null id.
CREATE FUNCTION ml.signal_vectors(monster_ids integer[]) RETURNS real[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    n integer := coalesce(cardinality(monster_ids), 0);
    entries record;
    vectors real[];
BEGIN
    PERFORM ml.check_monster_ids(monster_ids, 'monster_ids', 'limits.request_monsters');
    IF n = 0 THEN
        RETURN '{}'::real[];
    END IF;
    entries := ml.signal_entries(monster_ids);
    vectors := array_fill(0::real, ARRAY[n, 32]);
    FOR k IN 1 .. coalesce(cardinality(entries.rows), 0) LOOP
        vectors[entries.rows[k]][entries.dims[k] + 1] := entries.weights[k];
    END LOOP;
    RETURN vectors;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.signal_vectors(integer[]) TO ml_user, ml_worker;
