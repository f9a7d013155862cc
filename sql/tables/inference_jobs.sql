-- drop: DROP TABLE IF EXISTS ml.inference_jobs;
-- The decision queue. A row is one request: a pack (or any batch) of monsters from
-- ml.request_pack_actions, or one monster from the legacy gateway's ai_requests. Everything the worker
-- needs is in the row, resolved at submit time (pack membership, signal vectors), so the worker never
-- reads the graph; the worker's answer goes back into the row. Typed arrays, not jsonb, both ways:
-- they cost less to write and to decode (the JSON the game server reads is built when it asks:
-- ml.decision_result, the ml_decisions notification).
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
    -- The non-zero entries of the monsters' signal vectors (ml.signal_entries): monster
    -- monster_ids[signal_rows[i]] has signal_weights[i] in dimension signal_dims[i] (0-31). Most
    -- monsters hear nothing: n x 32 dense floats were 32 KB of zeros for a batch of 256.
    signal_rows        integer[] NOT NULL,
    signal_dims        integer[] NOT NULL,
    signal_weights     real[] NOT NULL,
    pack_leader_ids    integer[] NOT NULL,   -- per monster: its pack's leader, null when solo
    gateway_request_id bigint REFERENCES ml.ai_requests (request_id) ON DELETE CASCADE,
    attempts           smallint NOT NULL DEFAULT 0,
    max_attempts       smallint NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    worker_id          text,
    heartbeat_at       timestamptz,
    -- The answer, per monster in the order of monster_ids (null until answered, and for a job that
    -- failed): pack action 0-6 or 255 (the traditional AI), its probability, whether it counts as
    -- coordinated, why it got 255 (null when every monster has a model). Per job: the
    -- coordination score, the model versions used, the round's inference time.
    actions            smallint[],
    confidences        real[],
    coordinated        boolean[],
    reasons            text[],
    coordination_score real,
    model_version      text,
    inference_ms       real,
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
-- No planner statistics for the payload columns: no query filters or joins on them, and ANALYZE of
-- 100 KB float arrays (element histograms: every float hashed and sorted) was 6% of the CPU of a
-- busy queue (perf, batches of 256).
ALTER TABLE ml.inference_jobs
    ALTER COLUMN monster_ids SET STATISTICS 0,
    ALTER COLUMN archetypes SET STATISTICS 0,
    ALTER COLUMN states SET STATISTICS 0,
    ALTER COLUMN signal_rows SET STATISTICS 0,
    ALTER COLUMN signal_dims SET STATISTICS 0,
    ALTER COLUMN signal_weights SET STATISTICS 0,
    ALTER COLUMN pack_leader_ids SET STATISTICS 0,
    ALTER COLUMN actions SET STATISTICS 0,
    ALTER COLUMN confidences SET STATISTICS 0,
    ALTER COLUMN coordinated SET STATISTICS 0,
    ALTER COLUMN reasons SET STATISTICS 0;
CREATE INDEX inference_jobs_pending_idx ON ml.inference_jobs (priority, id) WHERE status = 'pending';
CREATE INDEX inference_jobs_running_idx ON ml.inference_jobs (heartbeat_at) WHERE status = 'running';
CREATE INDEX inference_jobs_finished_idx ON ml.inference_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX inference_jobs_gateway_idx ON ml.inference_jobs (gateway_request_id)
    WHERE gateway_request_id IS NOT NULL;

GRANT SELECT, UPDATE ON ml.inference_jobs TO ml_worker;
