-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions_packed(integer[], text[], bytea, integer);
-- Ask for decisions with the states packed: n x 64 IEEE-754 float32, little-endian, row-major
-- (monster i's state is bytes 256*i to 256*i+255), the way a game server holds them in memory.
-- The fastest form for large batches: the floats are neither converted nor checked one by one on
-- the way in or out (bench/RESULTS.md, "Decisions"). Returns the job id; the answer is read as for
-- the other forms (ml_decisions, ml.decision_result, ml.decision_actions).
-- Errors (nothing is written): as ml.request_pack_actions (ML008, ML009 and 22004 for the arrays
-- first, ml.check_decision_request), with ML004 for states that are not n * 256 bytes. A state holding NaN or infinity is found by the worker: that job fails (status
-- `failed`, the monster named in its error), no other job is touched.
CREATE FUNCTION ml.request_pack_actions_packed(
    monster_ids integer[],
    archetypes text[],
    states bytea,
    priority integer DEFAULT 5
) RETURNS bigint
LANGUAGE plpgsql  -- not SQL: a SQL function with SET is not inlined, and was planned per call
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ml.check_decision_request(monster_ids, archetypes);
    RETURN ml.submit_decision_job(monster_ids, archetypes, NULL, coalesce(states, ''::bytea), priority);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions_packed(integer[], text[], bytea, integer) TO ml_user;
