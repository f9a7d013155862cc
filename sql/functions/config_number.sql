-- drop: DROP FUNCTION IF EXISTS ml.config_number(text);
-- A numeric setting of ml.config. A missing key is an installation error (F0000), not bad input.
CREATE FUNCTION ml.config_number(setting text) RETURNS double precision
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
DECLARE
    found_value jsonb;
BEGIN
    SELECT value INTO found_value FROM ml.config WHERE key = setting;
    IF jsonb_typeof(found_value) IS DISTINCT FROM 'number' THEN
        RAISE EXCEPTION 'ml.config has no numeric setting %', quote_literal(setting)
            USING ERRCODE = 'F0000',
                  HINT = 'the migrations load it from config/ctde_config.yaml';
    END IF;
    RETURN found_value::double precision;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.config_number(text) TO ml_worker;
