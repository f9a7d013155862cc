-- drop: DROP TABLE IF EXISTS ml.workers;
-- Live workers and their heartbeats; a job whose worker stopped beating is rescued by any other.
CREATE TABLE ml.workers (
    worker_id      text PRIMARY KEY,
    hostname       text NOT NULL,
    pid            integer NOT NULL,
    providers      text[] NOT NULL DEFAULT '{}',
    status         varchar(16) NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'draining', 'stopped')),
    jobs_done      bigint NOT NULL DEFAULT 0,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now(),
    -- Idle and listening on ml_jobs: only then does a new job NOTIFY (ml.wake_idle_workers).
    waiting        boolean NOT NULL DEFAULT false
);

GRANT SELECT, INSERT, UPDATE ON ml.workers TO ml_worker;
