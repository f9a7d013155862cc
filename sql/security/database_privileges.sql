-- drop: DO $$ BEGIN EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', pg_catalog.current_database()); END $$;
-- No role but the owner may create temporary objects in the product database. PostgreSQL searches
-- pg_temp first for types and relations unless a search_path names it, so a pg_temp type or table
-- is how a session would stand something of its own in for what a function names; every ml
-- function pins pg_temp last, and this takes the means away as well. None of the product's roles
-- needs a temporary object (the owner, a superuser, keeps the right).
-- A database's privileges are not copied by CREATE DATABASE ... TEMPLATE: a clone runs this file
-- again (tests/conftest.py does for every test database).
DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
                              pg_catalog.current_database());
END;
$$;
