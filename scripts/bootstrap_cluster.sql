-- Cluster-wide objects of the development server: the three product roles and the extensions every
-- new database inherits from template1. Idempotent; run by scripts/db_server.sh up as the superuser.
-- The passwords are development defaults; a production server sets its own.
SET client_min_messages TO warning;
ALTER ROLE postgres PASSWORD 'postgres';

SELECT 'CREATE ROLE ml_admin LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ml_admin')
\gexec
SELECT 'CREATE ROLE ml_worker LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ml_worker')
\gexec
SELECT 'CREATE ROLE ml_user LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ml_user')
\gexec

-- ml_admin runs the migrations, and they create PL/Python functions: plpython3u is an untrusted
-- language, which PostgreSQL lets only a superuser use.
ALTER ROLE ml_admin SUPERUSER CREATEDB PASSWORD 'ml_admin';
ALTER ROLE ml_worker NOSUPERUSER PASSWORD 'ml_worker';
ALTER ROLE ml_user NOSUPERUSER PASSWORD 'ml_user';

-- A plain psql session as any product role sees the API schema first and ag_catalog last (AGE's
-- catalog must come last, or an unqualified CREATE TABLE lands in it).
ALTER ROLE ml_admin SET search_path = ml, public, ag_catalog;
ALTER ROLE ml_worker SET search_path = ml, public, ag_catalog;
ALTER ROLE ml_user SET search_path = ml, public, ag_catalog;

-- The game server's role cannot take the server from the others: at most this many connections
-- (the worker and the owner keep the rest of max_connections), no statement longer than this, no
-- wait for a lock longer than this (its calls fail with 55P03 rather than queue behind another
-- session), and a transaction left open is ended (with the locks it held) after this long.
-- Set them with psql variables (db_server.sh passes ML_USER_CONNECTION_LIMIT,
-- ML_USER_STATEMENT_TIMEOUT, ML_USER_LOCK_TIMEOUT, ML_USER_IDLE_IN_TRANSACTION_TIMEOUT).
\if :{?ml_user_connection_limit} \else \set ml_user_connection_limit 100 \endif
\if :{?ml_user_statement_timeout} \else \set ml_user_statement_timeout 10s \endif
\if :{?ml_user_lock_timeout} \else \set ml_user_lock_timeout 2s \endif
\if :{?ml_user_idle_in_transaction_timeout} \else \set ml_user_idle_in_transaction_timeout 10s \endif
ALTER ROLE ml_user CONNECTION LIMIT :ml_user_connection_limit;
ALTER ROLE ml_user SET statement_timeout = :'ml_user_statement_timeout';
ALTER ROLE ml_user SET lock_timeout = :'ml_user_lock_timeout';
ALTER ROLE ml_user SET idle_in_transaction_session_timeout = :'ml_user_idle_in_transaction_timeout';

\connect template1
SET client_min_messages TO warning;
CREATE EXTENSION IF NOT EXISTS age;
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE EXTENSION IF NOT EXISTS vector;
GRANT USAGE ON SCHEMA ag_catalog TO PUBLIC;
