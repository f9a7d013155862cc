-- drop: DROP FUNCTION IF EXISTS ml.submit_fence_key();
-- The advisory lock that fences decision submits from a worker going idle: every submit holds it
-- shared until its commit (ml.wake_idle_workers), a worker tries it exclusively before it sleeps
-- (sql/queries/fence_submits.sql). One definition, so the two can never name different locks.
CREATE FUNCTION ml.submit_fence_key() RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN pg_catalog.hashtext('ml.inference_jobs fence');
GRANT EXECUTE ON FUNCTION ml.submit_fence_key() TO ml_worker;
