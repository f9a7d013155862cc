-- drop: DROP FUNCTION IF EXISTS ml.first_bad_state(jsonb);
-- The index of the first element of a sync whose state is not 64 finite floats (the error path of
-- ml.sync_monsters, which parses every state at once and so cannot tell which one failed).
CREATE FUNCTION ml.first_bad_state(monsters jsonb) RETURNS integer
LANGUAGE sql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
    SELECT (e.ord - 1)::integer
    FROM jsonb_array_elements(monsters) WITH ORDINALITY AS e(m, ord)
    CROSS JOIN LATERAL (SELECT translate((e.m -> 'state')::text, '[]"', '{}!') AS literal) AS s
    WHERE CASE
        WHEN NOT pg_input_is_valid(s.literal, 'real[]') THEN true
        ELSE NOT (array_ndims(s.literal::real[]) = 1 AND cardinality(s.literal::real[]) = 64
                  AND ml.all_finite(s.literal::real[]))
    END
    ORDER BY e.ord
    LIMIT 1
$$;
