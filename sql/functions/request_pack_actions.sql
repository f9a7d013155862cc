-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions(jsonb);
-- Ask for decisions, the readable JSON form:
--   SELECT ml.request_pack_actions('{"monsters": [{"id": 1001, "archetype": "aggressive",
--                                                  "state": [64 floats]}, ...], "priority": 5}');
-- Same checks and errors as the typed form, plus ML005 for a request not shaped like that and ML004
-- for a state that is not 64 numbers.
CREATE FUNCTION ml.request_pack_actions(request jsonb) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog
AS $$
DECLARE
    ids integer[];
    kinds text[];
    states real[];
BEGIN
    IF jsonb_typeof(request) IS DISTINCT FROM 'object'
       OR jsonb_typeof(request -> 'monsters') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'request must be an object with a "monsters" array'
            USING ERRCODE = 'ML005', HINT = '{"monsters": [{"id": 1, "archetype": "tank", "state": [64 floats]}]}';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(request -> 'monsters') AS m
               WHERE jsonb_typeof(m) <> 'object' OR jsonb_typeof(m -> 'id') IS DISTINCT FROM 'number'
                  OR jsonb_typeof(m -> 'state') IS DISTINCT FROM 'array') THEN
        RAISE EXCEPTION 'each monster must be {"id": int, "archetype": text, "state": [64 numbers]}'
            USING ERRCODE = 'ML005';
    END IF;
    -- Each state is read by one array cast of its JSON text ([...] -> {...}), not element by
    -- element: a tenth of the cost. A string anywhere in it (a quote), a nested array, a value the
    -- cast refuses or a count other than 64 is ML004; the typed form then refuses NaN and null.
    BEGIN
        SELECT array_agg((m ->> 'id')::integer ORDER BY ord),
               array_agg(m ->> 'archetype' ORDER BY ord),
               array_agg(CASE WHEN jsonb_array_length(m -> 'state') = 64
                                   AND strpos((m -> 'state')::text, '"') = 0
                              THEN translate((m -> 'state')::text, '[]', '{}')::real[]
                         END ORDER BY ord)
        INTO ids, kinds, states
        FROM jsonb_array_elements(request -> 'monsters') WITH ORDINALITY AS e(m, ord);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range
                   OR array_subscript_error OR null_value_not_allowed THEN
        states := NULL;
    END;
    IF jsonb_array_length(request -> 'monsters') > 0
       AND (states IS NULL OR array_ndims(states) <> 2 OR array_length(states, 2) <> 64) THEN
        RAISE EXCEPTION 'each state must be exactly 64 numbers' USING ERRCODE = 'ML004';
    END IF;
    RETURN ml.request_pack_actions(ids, kinds, states, coalesce((request ->> 'priority')::integer, 5));
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions(jsonb) TO ml_user;
