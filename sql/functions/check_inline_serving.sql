-- drop: DROP FUNCTION IF EXISTS ml.check_inline_serving();
-- Refuses an inline decision while serving.mode is 'worker' (ML010): the operator has put every
-- decision on the workers, e.g. to keep inference off the database's cores.
CREATE FUNCTION ml.check_inline_serving() RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF ml.serving_mode() = 'worker' THEN
        RAISE EXCEPTION 'inline decisions are off: ml.config serving.mode is ''worker'''
            USING ERRCODE = 'ML010',
                  HINT = 'ml.request_pack_actions queues the request for a worker; or set serving.mode to inline or auto';
    END IF;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.check_inline_serving() TO ml_definer;
