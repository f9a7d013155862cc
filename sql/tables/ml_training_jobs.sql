-- drop: DROP TABLE IF EXISTS ml.ml_training_jobs;
-- The training queue: `INSERT INTO ml_training_jobs (archetype, algorithm, config) ...` makes a worker's
-- training runner (a separate process) train, export, verify and register a model. Progress is
-- written here and NOTIFYed on ml_training.
CREATE TABLE ml.ml_training_jobs (
    id               bigserial PRIMARY KEY,
    archetype        varchar(32) NOT NULL
        CHECK (archetype IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged')),
    algorithm        varchar(32) NOT NULL DEFAULT 'mappo',
    config           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           varchar(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead', 'cancelled')),
    priority         smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    attempts         smallint NOT NULL DEFAULT 0,
    max_attempts     smallint NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    worker_id        text,
    heartbeat_at     timestamptz,
    progress         real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    progress_detail  jsonb NOT NULL DEFAULT '{}'::jsonb,
    checkpoint_dir   text,
    model_id         bigint REFERENCES ml.ml_models (id) ON DELETE SET NULL,
    result           jsonb,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX ml_training_jobs_pending_idx ON ml.ml_training_jobs (priority, id) WHERE status = 'pending';

GRANT SELECT, UPDATE ON ml.ml_training_jobs TO ml_worker;
