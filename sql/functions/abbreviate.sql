-- drop: DROP FUNCTION IF EXISTS ml.abbreviate(text);
-- A value as an error message quotes it: itself up to 60 characters, else its first 40 and its
-- length ('aaaa... (1048576 characters)'), so that a message never echoes a whole input. Null
-- stays null (callers say 'null'). Inlined by the planner.
CREATE FUNCTION ml.abbreviate(value text) RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN CASE
    WHEN pg_catalog.length(value) <= 60 THEN value
    ELSE pg_catalog.left(value, 40) || '... (' || pg_catalog.length(value)::text || ' characters)'
END;
