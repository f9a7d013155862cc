-- drop: DROP FUNCTION IF EXISTS ml.decision_json(bigint, text, text, integer[], smallint[], real[], boolean[], text[], real, text, real);
-- A decision job's answer as the game server reads it, from the typed columns the worker wrote:
--   {"job_id", "status", "error", "actions": [{"monster_id", "action", "confidence",
--    "coordinated", "coordination_bonus"[, "reason"]}], "coordination_score", "model_version",
--    "inference_ms"}
-- Before the answer (and for a job that failed) only job_id, status and error. The one spelling of
-- this JSON: ml.decision_result and the ml_decisions notification (ml.decision_payload) both call it.
-- PL/pgSQL so that its query is planned once per session, not in every statement that calls it.
-- The arrays hold one entry per monster: ML008 when one is not one-dimensional (it runs as its
-- caller and writes nothing, so it has no size limit of its own; the worker's answer statement
-- calls it for every job, so unequal lengths, which the worker never writes, are not re-checked).
CREATE FUNCTION ml.decision_json(
    job_id bigint,
    status text,
    error text,
    monster_ids integer[],
    actions smallint[],
    confidences real[],
    coordinated boolean[],
    reasons text[],
    coordination_score real,
    model_version text,
    inference_ms real
) RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF actions IS NULL THEN
        RETURN jsonb_build_object('job_id', job_id, 'status', status, 'error', error);
    END IF;
    IF greatest(array_ndims(monster_ids), array_ndims(actions), array_ndims(confidences),
                array_ndims(coordinated), array_ndims(reasons)) > 1 THEN
        RAISE EXCEPTION 'monster_ids, actions, confidences, coordinated and reasons must be '
                        'one-dimensional arrays'
            USING ERRCODE = 'ML008';
    END IF;
    RETURN jsonb_build_object(
        'job_id', job_id, 'status', status, 'error', error,
        'actions', (
            SELECT jsonb_agg(
                       jsonb_build_object(
                           'monster_id', u.monster_id,
                           'action', u.action,
                           'confidence', u.confidence,
                           'coordinated', u.coordinated,
                           -- the job's score where the bonus applies, else 0.0
                           'coordination_bonus', CASE WHEN u.coordinated
                                                      THEN to_jsonb(decision_json.coordination_score)
                                                      ELSE '0.0'::jsonb END)
                       || CASE WHEN u.reason IS NULL THEN '{}'::jsonb
                               ELSE jsonb_build_object('reason', u.reason) END
                       ORDER BY u.ord)
            FROM unnest(monster_ids, actions, confidences, coordinated, reasons)
                 WITH ORDINALITY AS u(monster_id, action, confidence, coordinated, reason, ord)),
        'coordination_score', coordination_score,
        'model_version', model_version,
        'inference_ms', inference_ms);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decision_json(bigint, text, text, integer[], smallint[], real[], boolean[], text[], real, text, real)
    TO ml_user, ml_worker;
