-- drop: DROP FUNCTION IF EXISTS ml.send_formation_command(integer, text, jsonb, integer[]);
-- The seed's send_formation_command: take up a formation. Content {formation_type, positions}
-- where positions is {"<monster id>": [x, y], ...} or null; priority 4; encoded in dims 8-15 by
-- formation_type. Returns the receivers; errors as ml.broadcast_signal (ML007 for an unknown
-- formation_type, ML005 for malformed positions).
CREATE FUNCTION ml.send_formation_command(
    leader_id integer,
    formation_type text,
    positions jsonb DEFAULT NULL,
    pack_monsters integer[] DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    RETURN ml.deliver_signal(
        leader_id, 'formation_command',
        jsonb_build_object('formation_type', formation_type, 'positions', positions),
        pack_monsters, NULL);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.send_formation_command(integer, text, jsonb, integer[])
    TO ml_user, ml_worker;
