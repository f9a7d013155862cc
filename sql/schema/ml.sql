-- drop: DROP SCHEMA IF EXISTS ml CASCADE;
-- The product's schema: its API functions, tables and views. Owned by ml_admin (the migration role).
CREATE SCHEMA ml;
GRANT USAGE ON SCHEMA ml TO ml_user, ml_worker;

-- Functions are executable by PUBLIC unless told otherwise. The game server's role must reach only
-- the functions granted to it one by one, so the migration role's default is revoked database-wide
-- (a per-schema default cannot take a global privilege away).
ALTER DEFAULT PRIVILEGES FOR ROLE ml_admin REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
