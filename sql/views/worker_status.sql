-- drop: DROP VIEW IF EXISTS ml.worker_status;
-- Workers with their last heartbeat; 'silent' ones have not beaten for 5 seconds.
CREATE VIEW ml.worker_status AS
SELECT worker_id, hostname, pid, providers, status, jobs_done, started_at, heartbeat_at,
       round(extract(epoch FROM now() - heartbeat_at)::numeric, 1) AS seconds_since_heartbeat,
       status = 'running' AND heartbeat_at < now() - interval '5 seconds' AS silent
FROM ml.workers;
GRANT SELECT ON ml.worker_status TO ml_worker;
