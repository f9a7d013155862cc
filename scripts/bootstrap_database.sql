SET client_min_messages TO warning;
-- Objects of the product database that only the superuser may create. Idempotent.
-- pg_cron lives in the database named by cron.database_name (ragnarok_ml); the migrations schedule
-- the signal sweep there when the extension is present.
CREATE EXTENSION IF NOT EXISTS pg_cron;
GRANT USAGE ON SCHEMA cron TO ml_admin;
