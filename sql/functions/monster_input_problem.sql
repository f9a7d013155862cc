-- drop: DROP FUNCTION IF EXISTS ml.monster_input_problem(jsonb);
-- What is wrong with one element of ml.sync_monsters' array, as {SQLSTATE, message}, or null when
-- nothing is (the state's numbers are checked when they are parsed). Inlined by the planner. A
-- value quoted in a message is cut as ml.abbreviate cuts it (spelled out: a SQL-standard body
-- binds its names when it is created, before the helpers of later revisions exist).
CREATE FUNCTION ml.monster_input_problem(m jsonb) RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN CASE
    WHEN pg_catalog.jsonb_typeof(m) IS DISTINCT FROM 'object'
        THEN ARRAY['ML005', 'must be an object {id, mob_id, archetype, map_id, x, y, '
                            || 'hp_ratio, leadership_score, state}']
    WHEN NOT ml.is_json_integer(m -> 'id') THEN ARRAY['ML005', 'id must be an integer']
    WHEN (m ->> 'id')::numeric < 1
        THEN ARRAY['ML003', 'id must be positive, got ' || (m ->> 'id')]
    WHEN NOT ml.is_json_integer(m -> 'mob_id') THEN ARRAY['ML005', 'mob_id must be an integer']
    WHEN pg_catalog.jsonb_typeof(m -> 'archetype') IS DISTINCT FROM 'string'
        THEN ARRAY['ML005', 'archetype must be a string']
    WHEN (m ->> 'archetype')
         NOT IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged')
        THEN ARRAY['22P02', 'unknown archetype ' || pg_catalog.quote_literal(
                                CASE WHEN pg_catalog.length(m ->> 'archetype') <= 60
                                     THEN m ->> 'archetype'
                                     ELSE pg_catalog.left(m ->> 'archetype', 40) || '... ('
                                          || pg_catalog.length(m ->> 'archetype')::text
                                          || ' characters)' END)
                            || ' (known: aggressive, defensive, support, mage, tank, ranged)']
    WHEN NOT ml.is_json_integer(m -> 'map_id') THEN ARRAY['ML005', 'map_id must be an integer']
    WHEN (m ->> 'map_id')::numeric < 0
        THEN ARRAY['ML003', 'map_id must be >= 0, got ' || (m ->> 'map_id')]
    WHEN NOT ml.is_json_integer(m -> 'x') THEN ARRAY['ML005', 'x must be an integer cell']
    WHEN NOT ml.is_json_integer(m -> 'y') THEN ARRAY['ML005', 'y must be an integer cell']
    WHEN (m ->> 'x')::numeric NOT BETWEEN 0 AND 32767
         OR (m ->> 'y')::numeric NOT BETWEEN 0 AND 32767
        THEN ARRAY['ML003', 'x and y must be cells in 0..32767, got ' || (m ->> 'x') || ', '
                            || (m ->> 'y')]
    WHEN pg_catalog.jsonb_typeof(m -> 'hp_ratio') IS DISTINCT FROM 'number'
        THEN ARRAY['ML005', 'hp_ratio must be a number in [0, 1]']
    WHEN (m ->> 'hp_ratio')::numeric NOT BETWEEN 0 AND 1
        THEN ARRAY['ML003', 'hp_ratio must be in [0, 1], got '
                            || CASE WHEN pg_catalog.length(m ->> 'hp_ratio') <= 60
                                    THEN m ->> 'hp_ratio'
                                    ELSE pg_catalog.left(m ->> 'hp_ratio', 40) || '... ('
                                         || pg_catalog.length(m ->> 'hp_ratio')::text
                                         || ' characters)' END]
    WHEN pg_catalog.jsonb_typeof(m -> 'leadership_score') IS DISTINCT FROM 'number'
        THEN ARRAY['ML005', 'leadership_score must be a number in [0, 1]']
    WHEN (m ->> 'leadership_score')::numeric NOT BETWEEN 0 AND 1
        THEN ARRAY['ML003', 'leadership_score must be in [0, 1], got '
                            || CASE WHEN pg_catalog.length(m ->> 'leadership_score') <= 60
                                    THEN m ->> 'leadership_score'
                                    ELSE pg_catalog.left(m ->> 'leadership_score', 40) || '... ('
                                         || pg_catalog.length(m ->> 'leadership_score')::text
                                         || ' characters)' END]
    WHEN pg_catalog.jsonb_typeof(m -> 'state') IS DISTINCT FROM 'array'
         OR pg_catalog.jsonb_array_length(m -> 'state') <> 64
        THEN ARRAY['ML004', 'state must be an array of 64 finite floats']
END;
