-- drop: DROP FUNCTION IF EXISTS ml.serving_mode();
-- ml.config's serving.mode: 'inline', 'worker' or 'auto' (docs/inline_serving.md). A missing or
-- unknown value is an installation error (F0000), not bad input.
CREATE FUNCTION ml.serving_mode() RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    mode text;
BEGIN
    SELECT value #>> '{}' INTO mode FROM ml.config WHERE key = 'serving.mode';
    IF mode IS NULL OR mode NOT IN ('inline', 'worker', 'auto') THEN
        RAISE EXCEPTION 'ml.config serving.mode must be inline, worker or auto, got %',
            coalesce(quote_literal(mode), 'nothing')
            USING ERRCODE = 'F0000', HINT = 'the migrations load it from config/ctde_config.yaml';
    END IF;
    RETURN mode;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.serving_mode() TO ml_worker, ml_definer;
