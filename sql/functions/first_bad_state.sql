-- drop: DROP FUNCTION IF EXISTS ml.first_bad_state(jsonb);
-- The index of the first element of a sync whose state is not 64 numbers a float32 can hold
-- (ml.json_floats: a number too small for one is its 0, not an error), or null: the error path of
-- ml.sync_monsters, which parses every state at once and so cannot tell which one failed.
CREATE FUNCTION ml.first_bad_state(monsters jsonb) RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    RETURN (SELECT (e.ord - 1)::integer
            FROM jsonb_array_elements(monsters) WITH ORDINALITY AS e(m, ord)
            WHERE coalesce(cardinality(ml.json_floats(e.m -> 'state')) <> 64, true)
            ORDER BY e.ord
            LIMIT 1);
END;
$$;
