-- drop: DROP FUNCTION IF EXISTS ml.decide_pack(integer[], text[], real[]);
-- Decide a pack (or any batch) of monsters now, in this statement: the deployed pack actors run in
-- the database (docs/inline_serving.md), and the answer comes back as rows, one per monster in the
-- order of the request:
--   SELECT * FROM ml.decide_pack(ARRAY[1001, 1002], ARRAY['tank', 'tank'], states);
-- action: the pack action (0-6), or 255 "use the traditional AI" with the reason (no deployed
-- model, an output that was not finite, ONNX Runtime failing); coordinated and coordination_bonus
-- as ml.decision_actions gives them; model_version: the model that answered; inference_ms: the
-- decision's time in the database. Each monster decides from the recurrent memory its last
-- decision left (ml.monster_memory, shared with the worker) and keeps its new one. Pack keys and
-- signals are resolved as ml.request_pack_actions resolves them.
-- Errors (nothing is written): those of the typed ml.request_pack_actions (ML008, ML009, 22004,
-- ML005, ML004, 22P02, 23505, P0002), checked before anything is decided; ML010 while
-- serving.mode is 'worker'; ML011 when ONNX Runtime is missing from the server's Python.
CREATE FUNCTION ml.decide_pack(monster_ids integer[], archetypes text[], states real[])
RETURNS TABLE (monster_id integer, action smallint, confidence real, coordinated boolean,
               coordination_bonus real, reason text, model_version text, inference_ms real)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ml.check_inline_serving();
    PERFORM ml.check_decision_request(monster_ids, archetypes);
    PERFORM ml.check_decision_job(monster_ids, archetypes, states, NULL);
    RETURN QUERY SELECT * FROM ml.decide_inline(monster_ids, archetypes, array_send(states), 'array');
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decide_pack(integer[], text[], real[]) TO ml_user;
ALTER FUNCTION ml.decide_pack(integer[], text[], real[]) OWNER TO ml_definer;
