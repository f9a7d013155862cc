-- drop: DROP FUNCTION IF EXISTS ml.decide_pack(jsonb);
-- ml.decide_pack in the readable JSON form of ml.request_pack_actions(jsonb):
--   SELECT * FROM ml.decide_pack('{"monsters": [{"id": 1001, "archetype": "tank",
--                                                "state": [64 floats]}, ...]}');
-- Parsed by ml.parse_pack_request (its errors: ML005, ML004, ML002, ML009; a priority is accepted
-- and has nothing to order here); then the typed form's rows and errors.
CREATE FUNCTION ml.decide_pack(request jsonb)
RETURNS TABLE (monster_id integer, action smallint, confidence real, coordinated boolean,
               coordination_bonus real, reason text, model_version text, inference_ms real)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    parsed record;
BEGIN
    parsed := ml.parse_pack_request(request);
    RETURN QUERY SELECT * FROM ml.decide_pack(parsed.monster_ids, parsed.archetypes, parsed.states);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decide_pack(jsonb) TO ml_user;
ALTER FUNCTION ml.decide_pack(jsonb) OWNER TO ml_definer;
