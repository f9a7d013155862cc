-- drop: DROP FUNCTION IF EXISTS ml.decide_pack_packed(integer[], text[], bytea);
-- ml.decide_pack with the states packed as the game server holds them: n x 64 float32,
-- little-endian, in one bytea (no array to build or convert: the fastest form). Its rows and
-- errors are ml.decide_pack's; a packed state holding NaN or infinity is ML004 naming the monster.
CREATE FUNCTION ml.decide_pack_packed(monster_ids integer[], archetypes text[], states bytea)
RETURNS TABLE (monster_id integer, action smallint, confidence real, coordinated boolean,
               coordination_bonus real, reason text, model_version text, inference_ms real)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM ml.check_inline_serving();
    PERFORM ml.check_decision_request(monster_ids, archetypes);
    PERFORM ml.check_decision_job(monster_ids, archetypes, NULL, coalesce(states, ''::bytea));
    RETURN QUERY SELECT * FROM ml.decide_inline(monster_ids, archetypes, states, 'packed');
END;
$$;
GRANT EXECUTE ON FUNCTION ml.decide_pack_packed(integer[], text[], bytea) TO ml_user;
ALTER FUNCTION ml.decide_pack_packed(integer[], text[], bytea) OWNER TO ml_definer;
