-- drop: DROP FUNCTION IF EXISTS ml.json_floats(jsonb);
-- A JSON array of numbers (or numeric strings, as the fast conversions read them) as the float32
-- values a game server holds for them: a number too small for a float32 (1e-50, finite) is the 0
-- it rounds to there, where PostgreSQL's real input refuses it as out of range. Null when the
-- value is not an array, or any element is not a number a float32 can hold (NaN, an infinity,
-- beyond +-3.4028235e38, text, null, a nested array or object). The slow path of the JSON forms of
-- ml.sync_monsters and ml.request_pack_actions, run only when their one-pass conversion failed.
CREATE FUNCTION ml.json_floats(v jsonb) RETURNS real[]
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    numbers numeric[];
BEGIN
    IF jsonb_typeof(v) IS DISTINCT FROM 'array' THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) AS e(x)
               WHERE jsonb_typeof(e.x) NOT IN ('number', 'string')) THEN
        RETURN NULL;
    END IF;
    numbers := ARRAY(SELECT (e.x #>> '{}')::numeric
                     FROM jsonb_array_elements(v) WITH ORDINALITY AS e(x, ord) ORDER BY e.ord);
    -- NaN sorts above every number, infinities beyond the float32 range: all three fail here.
    -- Below the smallest float32 (1.4e-45, subnormal) a number is the 0 it rounds to.
    IF NOT (3.4028234663852886e38 >= ALL (numbers) AND -3.4028234663852886e38 <= ALL (numbers)) THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT CASE WHEN abs(u.n) < 1e-45 THEN 0 ELSE u.n END::real
                 FROM unnest(numbers) WITH ORDINALITY AS u(n, ord) ORDER BY u.ord);
EXCEPTION WHEN invalid_text_representation THEN  -- a string that is no number
    RETURN NULL;
END;
$$;
