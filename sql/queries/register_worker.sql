-- A worker announces itself: $1 id, $2 hostname, $3 pid, $4 execution providers.
INSERT INTO ml.workers (worker_id, hostname, pid, providers)
VALUES ($1, $2, $3, $4)
ON CONFLICT (worker_id) DO UPDATE
SET hostname = excluded.hostname, pid = excluded.pid, providers = excluded.providers,
    status = 'running', started_at = now(), heartbeat_at = now(), waiting = false
