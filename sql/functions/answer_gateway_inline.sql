-- drop: DROP FUNCTION IF EXISTS ml.answer_gateway_inline() CASCADE;
-- The legacy gateway's INSERT INTO ai_requests answered inside the INSERT when serving.mode says
-- so ('inline'; 'auto' while no GPU worker runs and ONNX Runtime is in the server's Python): the
-- answer row is in ai_responses when the INSERT commits, so the gateway's first poll finds it, and
-- the request is 'completed'. Otherwise the request goes to the queue as before
-- (ml.enqueue_gateway_requests, which skips the requests answered here). The gateway's SQL is
-- unchanged. A request that cannot be decided (malformed, unknown archetype, no model, ONNX
-- Runtime failing) is answered 255 with the reason: nothing here raises on the gateway's data.
CREATE FUNCTION ml.answer_gateway_inline() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    mode text := ml.serving_mode();
    answer record;
BEGIN
    IF mode = 'worker' OR (mode = 'auto' AND ml.gpu_worker_running()) THEN
        RETURN NEW;
    END IF;
    SELECT d.action, d.confidence, d.model_version, d.inference_ms, d.reason INTO answer
    FROM ml.decide_inline(ARRAY[NEW.monster_id], ARRAY[NEW.archetype::text],
                          array_send(NEW.state_vector),
                          CASE WHEN mode = 'auto' THEN 'gateway_auto' ELSE 'gateway' END) AS d;
    IF NOT FOUND THEN  -- 'auto' without ONNX Runtime in the server: the worker answers
        RETURN NEW;
    END IF;
    INSERT INTO ml.ai_responses (request_id, action_id, confidence, model_version,
                                 inference_time_ms, reason)
    VALUES (NEW.request_id, answer.action, answer.confidence, answer.model_version,
            answer.inference_ms, answer.reason);
    IF NEW.status = 'pending' THEN
        NEW.status := 'completed';
    END IF;
    RETURN NEW;
END;
$$;
ALTER FUNCTION ml.answer_gateway_inline() OWNER TO ml_definer;

CREATE TRIGGER ai_requests_answer_inline BEFORE INSERT ON ml.ai_requests
    FOR EACH ROW EXECUTE FUNCTION ml.answer_gateway_inline();
