-- drop: DROP FUNCTION IF EXISTS ml.wake_idle_workers() CASCADE;
-- A new decision job NOTIFYs ml_jobs only when a worker is idle (ml.workers.waiting). A busy worker
-- claims again as soon as it has answered its round and needs no wake-up; and every NOTIFY takes a
-- lock that serializes the commits of all notifying transactions, which with 50 connections
-- submitting at once cut the throughput 3.5-fold (bench/RESULTS.md, "Decisions").
--
-- No wake-up is lost: a submitter holds the shared fence lock from here to its commit; a worker
-- that goes idle first sets `waiting`, then sleeps only after it could take the fence exclusively
-- (pg_try_advisory_xact_lock: no submitter that may have read `waiting` before it was set is still
-- in flight, and none is ever made to wait) and a last claim found nothing. Whoever reads
-- `waiting` after it was set NOTIFYs.
-- A submit never waits for the fence either: when it cannot take it shared at once (a worker holds
-- it exclusively for the instant of its check), it NOTIFYs whatever `waiting` says, which wakes
-- that worker if it goes to sleep. Only the worker and ml_definer may take advisory locks at all
-- (sql/security/advisory_locks.sql), so no client holds the fence.
CREATE FUNCTION ml.wake_idle_workers() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(ml.submit_fence_key()) THEN
        PERFORM pg_notify('ml_jobs', '');
    -- A worker killed while idle never clears its flag: only one that still beats counts.
    ELSIF EXISTS (SELECT 1 FROM ml.workers w
                  WHERE w.waiting AND w.status = 'running'
                    AND w.heartbeat_at > now() - interval '10 seconds') THEN
        PERFORM pg_notify('ml_jobs', '');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER inference_jobs_wake AFTER INSERT ON ml.inference_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION ml.wake_idle_workers();
