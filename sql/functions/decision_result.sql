-- drop: DROP FUNCTION IF EXISTS ml.decision_result(bigint);
-- The stored answer of a decision job, the same JSON as its ml_decisions notification
-- (ml.decision_json):
--   {"job_id", "status", "actions": [{"monster_id", "action", "confidence", "coordinated",
--    "coordination_bonus"}], "coordination_score", "error"}
-- While the job is pending or running, "actions" is absent. Unknown job: P0002.
CREATE FUNCTION ml.decision_result(job_id bigint) RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    answer jsonb;
BEGIN
    SELECT ml.decision_json(j.id, j.status, j.error, j.monster_ids, j.actions, j.confidences,
                            j.coordinated, j.reasons, j.coordination_score, j.model_version,
                            j.inference_ms)
    INTO answer
    FROM ml.inference_jobs j
    WHERE j.id = decision_result.job_id AND j.kind = 'pack';
    IF answer IS NULL THEN
        RAISE EXCEPTION 'no decision job %', job_id USING ERRCODE = 'P0002';
    END IF;
    RETURN answer;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decision_result(bigint) TO ml_user, ml_worker;
