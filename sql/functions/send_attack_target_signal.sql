-- drop: DROP FUNCTION IF EXISTS ml.send_attack_target_signal(integer, integer, double precision, integer[]);
-- The seed's send_attack_target_signal: focus on target_id. Content {target_id, threat};
-- priority 2; encoded in dims 0-7 by threat. Returns the receivers; errors as ml.broadcast_signal (ML003 for a
-- NaN or out-of-range target_threat).
CREATE FUNCTION ml.send_attack_target_signal(
    from_monster_id integer,
    target_id integer,
    target_threat double precision,
    pack_monsters integer[] DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    RETURN ml.deliver_signal(
        from_monster_id, 'attack_target',
        jsonb_build_object('target_id', target_id, 'threat', target_threat),
        pack_monsters, NULL);
END;
$$;
GRANT EXECUTE ON FUNCTION
    ml.send_attack_target_signal(integer, integer, double precision, integer[])
    TO ml_user, ml_worker;
