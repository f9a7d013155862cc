-- drop: REASSIGN OWNED BY ml_definer TO CURRENT_USER; DROP OWNED BY ml_definer;
-- Every SECURITY DEFINER function of schema ml is owned by ml_definer: a role that cannot log in,
-- is not a superuser and holds only what those bodies do (read and write the product's tables and
-- graph, call the product's functions). The migration role is a superuser (PL/Python is an
-- untrusted language, so only a superuser may create its functions); owned by it, a definer body
-- that could be tricked into running a caller's code would run it as a superuser. PostgreSQL lets
-- a non-superuser own and run a PL/Python function, so no definer function is left to the owner.
-- ml.plpython_modules stays read-only to it: the modules there run as Python inside the server.
-- Re-applied by every revision that adds a table or a definer function (the loop below takes
-- whatever exists); tests/test_security.py fails for a definer function owned by anyone else.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ml_definer') THEN
        CREATE ROLE ml_definer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END;
$$;
GRANT USAGE ON SCHEMA ml, monster_ai TO ml_definer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ml, monster_ai TO ml_definer;
REVOKE INSERT, UPDATE, DELETE ON ml.plpython_modules FROM ml_definer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ml, monster_ai TO ml_definer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ml TO ml_definer;
DO $$
DECLARE
    definer regprocedure;
BEGIN
    FOR definer IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'ml' AND p.prosecdef
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO ml_definer', definer);
    END LOOP;
END;
$$;
