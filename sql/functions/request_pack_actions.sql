-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions(jsonb);
-- Ask for decisions, the readable JSON form:
--   SELECT ml.request_pack_actions('{"monsters": [{"id": 1001, "archetype": "aggressive",
--                                                  "state": [64 floats]}, ...], "priority": 5}');
-- Same checks and errors as the typed form, plus ML005 for a request not shaped like that and ML004
-- for a state that is not 64 numbers.
CREATE FUNCTION ml.request_pack_actions(request jsonb) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    ids integer[];
    kinds text[];
    states real[];
    parsed boolean := true;
BEGIN
    IF jsonb_typeof(request) IS DISTINCT FROM 'object'
       OR jsonb_typeof(request -> 'monsters') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'request must be an object with a "monsters" array'
            USING ERRCODE = 'ML005', HINT = '{"monsters": [{"id": 1, "archetype": "tank", "state": [64 floats]}]}';
    END IF;
    -- One pass in C over the whole array (jsonb_to_recordset turns each "state" into a real[]);
    -- the element-by-element checks below run only to name what is wrong with a request that
    -- did not parse.
    BEGIN
        SELECT array_agg(r.id ORDER BY r.ord), array_agg(r.archetype ORDER BY r.ord),
               array_agg(r.state ORDER BY r.ord)
        INTO ids, kinds, states
        FROM ROWS FROM (jsonb_to_recordset(request -> 'monsters')
                        AS (id integer, archetype text, state real[]))
             WITH ORDINALITY AS r(id, archetype, state, ord);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
                   OR array_subscript_error OR null_value_not_allowed
                   OR invalid_parameter_value OR datatype_mismatch THEN
        parsed := false;
    END;
    IF NOT parsed OR array_position(ids, NULL) IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(request -> 'monsters') AS m
                   WHERE jsonb_typeof(m) <> 'object'
                      OR jsonb_typeof(m -> 'id') IS DISTINCT FROM 'number'
                      OR jsonb_typeof(m -> 'state') IS DISTINCT FROM 'array') THEN
            RAISE EXCEPTION 'each monster must be {"id": int, "archetype": text, "state": [64 numbers]}'
                USING ERRCODE = 'ML005';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(request -> 'monsters') AS m
                       WHERE NOT ml.is_json_integer(m -> 'id')) THEN
            RAISE EXCEPTION 'each state must be exactly 64 numbers' USING ERRCODE = 'ML004';
        END IF;
        RAISE EXCEPTION 'each monster must be {"id": int, "archetype": text, "state": [64 numbers]}'
            USING ERRCODE = 'ML005', DETAIL = 'every id must be an integer';
    END IF;
    IF ids IS NOT NULL AND (array_ndims(states) <> 2 OR array_length(states, 2) <> 64) THEN
        RAISE EXCEPTION 'each state must be exactly 64 numbers' USING ERRCODE = 'ML004';
    END IF;
    RETURN ml.request_pack_actions(ids, kinds, states, coalesce((request ->> 'priority')::integer, 5));
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions(jsonb) TO ml_user;
