-- drop: DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$' LOOP EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM ml_definer, ml_worker', f); EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f); END LOOP; END $$;
-- Advisory locks are the product's own: the submit fence (ml.submit_fence_key) and each map's
-- formation lock (ml.lock_pack_maps). Any session may take any advisory lock by default, so one
-- game-server session holding the fence's key stopped every submit, and one holding a map's key
-- stopped that map's formation and its spawning syncs. In this database only the definer
-- functions' owner and the worker may take one; others get 42501 (insufficient_privilege).
-- The functions live in pg_catalog and their privileges are this database's alone.
DO $$
DECLARE
    locker regprocedure;
BEGIN
    FOR locker IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', locker);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO ml_definer, ml_worker', locker);
    END LOOP;
END;
$$;
