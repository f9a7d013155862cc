-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions(integer[], text[], real[], integer);
-- Ask for decisions for a pack (or any batch) of monsters: the typed form, without JSON to parse.
-- states is n x 64. Returns the job id; the answer arrives on channel ml_decisions and stays readable
-- with ml.decision_result(job_id). Pack membership and each monster's signal vector are resolved here,
-- at submit time, so the worker finds everything in the row (ml.submit_decision_job).
-- Errors (nothing is written; codes as in docs/coordination.md): ML008 monster_ids or archetypes
-- not one-dimensional; ML009 more than limits.request_monsters (1024) monsters; 22004 a null id;
-- ML005 empty or ragged request; ML004 a state that is not 64 finite floats; ML002 priority outside
-- 1-10; 22P02 unknown archetype; 23505 a monster twice; P0002 unknown monster. The arrays are
-- checked (ml.check_decision_request) before anything else is.
CREATE FUNCTION ml.request_pack_actions(
    monster_ids integer[],
    archetypes text[],
    states real[],
    priority integer DEFAULT 5
) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ml.check_decision_request(monster_ids, archetypes);
    RETURN ml.submit_decision_job(monster_ids, archetypes, states, NULL, priority);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions(integer[], text[], real[], integer) TO ml_user;
