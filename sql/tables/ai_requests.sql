-- drop: DROP TABLE IF EXISTS ml.ai_requests CASCADE;
-- The legacy gateway's request table. Its SQL is fixed (see README, "Legacy gateway protocol"):
--   INSERT INTO ai_requests (monster_id, mob_id, archetype, state_vector, map_id, position_x,
--     position_y, hp_ratio, sp_ratio, status, priority) VALUES (..., 'pending', 5) RETURNING request_id
--   UPDATE ai_requests SET status = 'timeout' WHERE request_id = $1
CREATE TABLE ml.ai_requests (
    request_id   bigserial PRIMARY KEY,
    monster_id   integer NOT NULL,
    mob_id       integer NOT NULL,
    archetype    varchar(32) NOT NULL,
    state_vector real[] NOT NULL,
    map_id       integer NOT NULL,
    position_x   integer NOT NULL,
    position_y   integer NOT NULL,
    hp_ratio     real NOT NULL,
    sp_ratio     real NOT NULL,
    status       varchar(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'completed', 'timeout', 'failed')),
    priority     integer NOT NULL DEFAULT 5,
    created_at   timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_analyze_scale_factor = 0.5);  -- as ml.inference_jobs: analyzed early, then rarely
-- No element statistics for the state floats (as ml.inference_jobs says why).
ALTER TABLE ml.ai_requests ALTER COLUMN state_vector SET STATISTICS 0;
-- No index on status: nothing looks requests up by it (the worker claims from ml.inference_jobs),
-- and one made the worker's answer join every pending request to every answered one (a plan that
-- grows with the backlog) and every status change a non-HOT update.

-- The gateway inserts, reads back, and may only mark its own request as timed out.
GRANT SELECT, INSERT ON ml.ai_requests TO ml_user;
GRANT UPDATE (status) ON ml.ai_requests TO ml_user;
GRANT USAGE ON SEQUENCE ml.ai_requests_request_id_seq TO ml_user;
GRANT SELECT, UPDATE (status) ON ml.ai_requests TO ml_worker;
