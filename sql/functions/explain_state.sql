-- drop: DROP FUNCTION IF EXISTS ml.explain_state(real[]);
-- A monster's 64-float state as the game server's contract reads it (docs/state_contract.md):
-- one row per dimension, in order, with its group, name, value, meaning and its first problem
-- (null: the value is what the game server can send; else it says what breaks: not finite,
-- outside [0, 1], a constant or a copy that does not hold, a value between the allowed levels).
-- The decoding is plpython/state_contract.py's (ml.explain_state_rows), the module the Python
-- side imports. The cap, checked from the array's header before anything is converted (a
-- refusal costs the same whatever the array's size): ML004 for a null state or one that is not
-- exactly 64 elements, ML008 for an array of more than one dimension. Reads and writes nothing
-- but the modules; SECURITY DEFINER (owned by ml_definer) only because the PL/Python body loads
-- them from ml.plpython_modules, which the game server's role may not read.
CREATE FUNCTION ml.explain_state(state real[])
RETURNS TABLE (dim integer, grp text, name text, value real, meaning text, problem text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF state IS NULL THEN
        RAISE EXCEPTION 'state must be 64 numbers, got null' USING ERRCODE = 'ML004';
    END IF;
    IF array_ndims(state) > 1 THEN
        RAISE EXCEPTION 'state must be a one-dimensional array of 64 numbers, got % dimensions',
            array_ndims(state) USING ERRCODE = 'ML008';
    END IF;
    IF cardinality(state) <> 64 THEN
        RAISE EXCEPTION 'state must be 64 numbers, got %', cardinality(state)
            USING ERRCODE = 'ML004';
    END IF;
    RETURN QUERY SELECT * FROM ml.explain_state_rows(state);
END;
$$;
ALTER FUNCTION ml.explain_state(real[]) OWNER TO ml_definer;
GRANT EXECUTE ON FUNCTION ml.explain_state(real[]) TO ml_user, ml_worker;
