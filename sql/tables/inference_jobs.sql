-- drop: DROP TABLE IF EXISTS ml.inference_jobs;
-- The decision queue. A row is one request: a pack (or any batch) of monsters from
-- ml.request_pack_actions, or one monster from the legacy gateway's ai_requests. Everything the worker
-- needs is in the row, resolved at submit time (pack membership, signal vectors), so the worker never
-- reads the graph. Typed arrays, not jsonb: they cost less to write and to decode.
CREATE TABLE ml.inference_jobs (
    id                 bigserial PRIMARY KEY,
    kind               varchar(16) NOT NULL CHECK (kind IN ('pack', 'gateway')),
    status             varchar(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead', 'cancelled')),
    priority           smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    monster_ids        integer[] NOT NULL,
    archetypes         text[] NOT NULL,
    -- Floats do not compress: stored as they are (no pglz pass on every submit), in the row up to
    -- toast_tuple_target, out of line beyond it.
    states             real[] STORAGE EXTERNAL NOT NULL,  -- n x 64
    signals            real[] STORAGE EXTERNAL NOT NULL,  -- n x 32
    pack_leader_ids    integer[] NOT NULL,   -- per monster: its pack's leader, null when solo
    gateway_request_id bigint REFERENCES ml.ai_requests (request_id) ON DELETE CASCADE,
    attempts           smallint NOT NULL DEFAULT 0,
    max_attempts       smallint NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    worker_id          text,
    heartbeat_at       timestamptz,
    result             jsonb,
    error              text,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at         timestamptz,
    finished_at        timestamptz
) WITH (
    toast_tuple_target = 8160,  -- a pack of 5 (2 KB of floats) stays in its row
    -- A queue that grows from empty needs statistics at once (plans cached while it looked empty
    -- scan it whole), not a 30,000-row sample of its wide rows every 10% of growth after that:
    -- analyzing it every second or two cost 5% of the CPU at 2,000 jobs/s.
    autovacuum_analyze_scale_factor = 0.5
);
CREATE INDEX inference_jobs_pending_idx ON ml.inference_jobs (priority, id) WHERE status = 'pending';
CREATE INDEX inference_jobs_running_idx ON ml.inference_jobs (heartbeat_at) WHERE status = 'running';
CREATE INDEX inference_jobs_finished_idx ON ml.inference_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX inference_jobs_gateway_idx ON ml.inference_jobs (gateway_request_id)
    WHERE gateway_request_id IS NOT NULL;

GRANT SELECT, UPDATE ON ml.inference_jobs TO ml_worker;
