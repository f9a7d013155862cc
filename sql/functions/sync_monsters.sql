-- drop: DROP FUNCTION IF EXISTS ml.sync_monsters(jsonb);
-- The game server's per-tick upsert of monster state:
--   SELECT ml.sync_monsters('[{"id": 1001, "mob_id": 1002, "archetype": "aggressive",
--       "map_id": 1, "x": 150, "y": 200, "hp_ratio": 0.8, "leadership_score": 0.9,
--       "state": [64 floats]}, ...]');
-- Returns the number of monsters synced. New ids spawn (a Monster vertex; their map's packs
-- re-form); the ml.monsters triggers keep each vertex equal to its row. All or nothing: the first
-- bad element (in array order) raises and nothing is written. Numbers may also come as numeric
-- strings ("0.5"): PostgreSQL's JSON-to-record conversion reads both.
-- Errors: ML009 more than limits.sync_monsters (2048) monsters or limits.json_bytes of jsonb
-- (checked first, before anything is converted); ML005 not an array / element not an object /
-- field missing or of the wrong JSON type; ML003 number out of range (id < 1, map_id < 0, x or y
-- outside 0..32767, hp_ratio or leadership_score NaN or outside [0, 1]); ML004 state not 64 floats
-- a float32 can hold (a number too small for one, 1e-50, is its 0); 22P02 unknown archetype;
-- 23505 a monster twice in one call.
CREATE FUNCTION ml.sync_monsters(monsters jsonb) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
DECLARE
    batch ml.monster_state[];
    problem record;
    n integer;
    cap double precision;
BEGIN
    IF jsonb_typeof(monsters) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'monsters must be a JSON array of monster objects, got %',
            coalesce(jsonb_typeof(monsters), 'null')
            USING ERRCODE = 'ML005',
                  HINT = '[{"id": 1001, "mob_id": 1002, "archetype": "aggressive", "map_id": 1, '
                         '"x": 150, "y": 200, "hp_ratio": 0.8, "leadership_score": 0.9, '
                         '"state": [64 floats]}]';
    END IF;
    -- The sizes first, both read from the value's header: nothing of a call over a limit is
    -- converted (10,000 spawns on one map took 5.3 s).
    cap := ml.config_number('limits.json_bytes');
    IF pg_column_size(monsters) > cap THEN
        RAISE EXCEPTION 'monsters is % bytes of jsonb; at most % per call',
            pg_column_size(monsters), cap
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.json_bytes';
    END IF;
    n := jsonb_array_length(monsters);
    cap := ml.config_number('limits.sync_monsters');
    IF n > cap THEN
        RAISE EXCEPTION 'monsters has % entries; at most % per call', n, cap
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.sync_monsters: split the sync';
    END IF;
    IF n = 0 THEN
        RETURN 0;
    END IF;

    -- One pass of C conversion into ml.monster_state rows; ml.upsert_monsters checks the values.
    -- A JSON shape that cannot convert is explained by the slower element-wise check.
    BEGIN
        batch := ARRAY(SELECT jsonb_populate_recordset(NULL::ml.monster_state, monsters));
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN  -- 54000: a state nested 7 deep
        SELECT e.ord - 1 AS idx, ml.monster_input_problem(e.m) AS p INTO problem
        FROM jsonb_array_elements(monsters) WITH ORDINALITY AS e(m, ord)
        WHERE ml.monster_input_problem(e.m) IS NOT NULL
        ORDER BY e.ord
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'monsters[%]: %', problem.idx, problem.p[2]
                USING ERRCODE = problem.p[1];
        END IF;
        problem := NULL;
        SELECT ml.first_bad_state(monsters) AS idx INTO problem;
        IF problem.idx IS NOT NULL THEN
            RAISE EXCEPTION 'monsters[%]: state must be an array of 64 finite floats', problem.idx
                USING ERRCODE = 'ML004';
        END IF;
        -- Every state is 64 numbers a float32 holds, and one of them is too small for the real
        -- input (1e-50): the states number by number, such a number as its 0. Anything else
        -- that fails here is an error the element-wise checks do not explain: it goes through.
        batch := ARRAY(
            SELECT ROW(r.id, r.mob_id, r.archetype, r.map_id, r.x, r.y, r.hp_ratio,
                       r.leadership_score, ml.json_floats(e.m -> 'state'))::ml.monster_state
            FROM jsonb_array_elements(monsters) WITH ORDINALITY AS e(m, ord)
            CROSS JOIN LATERAL jsonb_populate_record(NULL::ml.monster_state, e.m - 'state') AS r
            ORDER BY e.ord);
    END;
    RETURN ml.upsert_monsters(batch);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.sync_monsters(jsonb) TO ml_user;
