-- drop: DROP FUNCTION IF EXISTS ml.is_json_integer(jsonb);
-- Whether a JSON value is an integer literal (no fraction, no exponent) fitting an integer column.
CREATE FUNCTION ml.is_json_integer(v jsonb) RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN CASE WHEN pg_catalog.jsonb_typeof(v) IS DISTINCT FROM 'number' THEN false
            WHEN v::text !~ '^-?[0-9]{1,10}$' THEN false
            ELSE v::numeric BETWEEN -2147483648 AND 2147483647
       END;
