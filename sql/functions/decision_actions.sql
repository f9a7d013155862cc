-- drop: DROP FUNCTION IF EXISTS ml.decision_actions(bigint);
-- The answer of a decision job as typed rows, one per monster in the order of the request: the
-- fast read for large batches (no JSON on either side), the pair of the typed
-- ml.request_pack_actions(int[], text[], real[]). No rows while the job is pending or running, or
-- when it failed (ml.decision_result says why). Unknown job: P0002.
CREATE FUNCTION ml.decision_actions(job_id bigint)
RETURNS TABLE (monster_id integer, action smallint, confidence real, coordinated boolean,
               coordination_bonus real, reason text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT u.monster_id, u.action, u.confidence, u.coordinated,
           CASE WHEN u.coordinated THEN j.coordination_score ELSE 0 END::real, u.reason
    FROM ml.inference_jobs j,
         unnest(j.monster_ids, j.actions, j.confidences, j.coordinated, j.reasons)
             WITH ORDINALITY AS u(monster_id, action, confidence, coordinated, reason, ord)
    WHERE j.id = decision_actions.job_id AND j.kind = 'pack' AND j.actions IS NOT NULL
    ORDER BY u.ord;
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM ml.inference_jobs j
                                 WHERE j.id = decision_actions.job_id AND j.kind = 'pack') THEN
        RAISE EXCEPTION 'no decision job %', job_id USING ERRCODE = 'P0002';
    END IF;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decision_actions(bigint) TO ml_user, ml_worker;
