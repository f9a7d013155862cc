-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions(jsonb);
-- Ask for decisions, the readable JSON form:
--   SELECT ml.request_pack_actions('{"monsters": [{"id": 1001, "archetype": "aggressive",
--                                                  "state": [64 floats]}, ...], "priority": 5}');
-- Same checks and errors as the typed form, plus ML005 for a request not shaped like that, ML004
-- for a state that is not 64 numbers a float32 can hold (one too small for a float32, 1e-50, is
-- its 0), ML002 for a priority that is not an integer in 1-10 (absent or null: 5). The sizes come
-- first, before anything is converted: ML009 over limits.json_bytes of jsonb or
-- limits.request_monsters (1024) monsters (a request of a million monsters was parsed for 4 s
-- before the queue's own bound refused it).
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
    cap double precision;
    n integer;
    priority_text text := request ->> 'priority';
    bad_state boolean;
BEGIN
    IF jsonb_typeof(request) IS DISTINCT FROM 'object'
       OR jsonb_typeof(request -> 'monsters') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'request must be an object with a "monsters" array'
            USING ERRCODE = 'ML005', HINT = '{"monsters": [{"id": 1, "archetype": "tank", "state": [64 floats]}]}';
    END IF;
    cap := ml.config_number('limits.json_bytes');
    IF pg_column_size(request) > cap THEN
        RAISE EXCEPTION 'request is % bytes of jsonb; at most % per request',
            pg_column_size(request), cap
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.json_bytes';
    END IF;
    n := jsonb_array_length(request -> 'monsters');
    cap := ml.config_number('limits.request_monsters');
    IF n > cap THEN
        RAISE EXCEPTION 'request has % monsters; at most % per request', n, cap
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.request_monsters: split the batch';
    END IF;
    -- A JSON integer (or a string holding one); its range is checked with the typed form's.
    IF priority_text IS NOT NULL AND priority_text !~ '^\s*[+-]?[0-9]{1,9}\s*$' THEN
        RAISE EXCEPTION 'priority must be an integer between 1 and 10, got %',
            ml.abbreviate((request -> 'priority')::text)
            USING ERRCODE = 'ML002';
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
                   OR invalid_parameter_value OR datatype_mismatch
                   OR program_limit_exceeded THEN  -- 54000: a state nested 7 deep
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
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(request -> 'monsters') AS m
                   WHERE NOT ml.is_json_integer(m -> 'id')) THEN
            RAISE EXCEPTION 'each monster must be {"id": int, "archetype": text, "state": [64 numbers]}'
                USING ERRCODE = 'ML005', DETAIL = 'every id must be an integer';
        END IF;
        -- Every id an integer and every state an array: the states number by number, a number
        -- too small for the real input (1e-50) as its 0; anything else not a float32 is ML004.
        SELECT array_agg((e.m ->> 'id')::integer ORDER BY e.ord),
               array_agg(e.m ->> 'archetype' ORDER BY e.ord),
               array_agg(CASE WHEN cardinality(e.floats) = 64 THEN e.floats
                              ELSE array_fill(0::real, ARRAY[64]) END ORDER BY e.ord),
               bool_or(coalesce(cardinality(e.floats) <> 64, true))
        INTO ids, kinds, states, bad_state
        FROM (SELECT j.m, j.ord, ml.json_floats(j.m -> 'state') AS floats
              FROM jsonb_array_elements(request -> 'monsters') WITH ORDINALITY AS j(m, ord)) AS e;
        IF bad_state THEN
            RAISE EXCEPTION 'each state must be exactly 64 numbers' USING ERRCODE = 'ML004';
        END IF;
    END IF;
    IF ids IS NOT NULL AND (array_ndims(states) <> 2 OR array_length(states, 2) <> 64) THEN
        RAISE EXCEPTION 'each state must be exactly 64 numbers' USING ERRCODE = 'ML004';
    END IF;
    RETURN ml.request_pack_actions(ids, kinds, states, coalesce(priority_text::integer, 5));
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions(jsonb) TO ml_user;
