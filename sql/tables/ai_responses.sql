-- drop: DROP TABLE IF EXISTS ml.ai_responses;
-- The legacy gateway's answers: it polls
--   SELECT action_id, confidence FROM ai_responses WHERE request_id = $1 LIMIT 1
-- Action ids 0-9 (IDLE, ATTACK, MOVE_CLOSER, MOVE_AWAY, MOVE_RANDOM, SKILL_1..3, CHANGE_TARGET, FLEE);
-- 255 = use the traditional AI.
CREATE TABLE ml.ai_responses (
    response_id       bigserial PRIMARY KEY,
    request_id        bigint NOT NULL UNIQUE REFERENCES ml.ai_requests (request_id) ON DELETE CASCADE,
    action_id         smallint NOT NULL CHECK (action_id BETWEEN 0 AND 9 OR action_id = 255),
    confidence        real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    model_version     varchar(64),
    inference_time_ms real,
    reason            text,
    created_at        timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_analyze_scale_factor = 0.5);  -- as ml.inference_jobs: analyzed early, then rarely

GRANT SELECT ON ml.ai_responses TO ml_user;
GRANT SELECT, INSERT ON ml.ai_responses TO ml_worker;
GRANT USAGE ON SEQUENCE ml.ai_responses_response_id_seq TO ml_worker;
