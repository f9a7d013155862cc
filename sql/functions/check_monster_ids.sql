-- drop: DROP FUNCTION IF EXISTS ml.check_monster_ids(integer[], text, text);
-- The checks every array of monster ids of the API takes before any work, cheapest first: one
-- dimension (ML008), at most the ml.config limit `limit_key` entries (ML009), no null (22004).
-- `argument` names the array in the messages. A null or empty array passes (callers decide).
CREATE FUNCTION ml.check_monster_ids(ids integer[], argument text, limit_key text) RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cap double precision;
    null_at integer;
BEGIN
    IF array_ndims(ids) > 1 THEN
        RAISE EXCEPTION '% must be a one-dimensional array of monster ids, got %',
            argument, array_dims(ids)
            USING ERRCODE = 'ML008';
    END IF;
    cap := ml.config_number(limit_key);
    IF cardinality(ids) > cap THEN
        RAISE EXCEPTION '% has % entries; at most % per call', argument, cardinality(ids), cap
            USING ERRCODE = 'ML009', HINT = format('ml.config %s', limit_key);
    END IF;
    null_at := array_position(ids, NULL);
    IF null_at IS NOT NULL THEN
        RAISE EXCEPTION '%[%] is null: monster ids must not be null', argument, null_at
            USING ERRCODE = '22004';
    END IF;
END;
$$;
