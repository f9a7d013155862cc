-- drop: DROP FUNCTION IF EXISTS ml.request_pack_actions(jsonb);
-- Ask for decisions, the readable JSON form:
--   SELECT ml.request_pack_actions('{"monsters": [{"id": 1001, "archetype": "aggressive",
--                                                  "state": [64 floats]}, ...], "priority": 5}');
-- Parsed by ml.parse_pack_request (its errors: ML005, ML004, ML002, ML009), then the typed form's
-- checks and errors.
CREATE FUNCTION ml.request_pack_actions(request jsonb) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    parsed record;
BEGIN
    parsed := ml.parse_pack_request(request);
    RETURN ml.request_pack_actions(parsed.monster_ids, parsed.archetypes, parsed.states,
                                   parsed.priority);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.request_pack_actions(jsonb) TO ml_user;
