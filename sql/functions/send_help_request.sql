-- drop: DROP FUNCTION IF EXISTS ml.send_help_request(integer, double precision, double precision, integer, integer, integer[]);
-- The seed's send_help_request: a hurt monster calls for help. Content {urgency, hp_ratio,
-- position: [x, y]}; priority 3; encoded in dims 16-23 by urgency. Returns the receivers; errors
-- as ml.broadcast_signal (ML003 for a NaN or out-of-range urgency or hp_ratio).
CREATE FUNCTION ml.send_help_request(
    from_monster_id integer,
    urgency double precision,
    hp_ratio double precision,
    x integer,
    y integer,
    pack_monsters integer[] DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    RETURN ml.deliver_signal(
        from_monster_id, 'help_request',
        jsonb_build_object('urgency', urgency, 'hp_ratio', hp_ratio,
                           'position', jsonb_build_array(x, y)),
        pack_monsters, NULL);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.send_help_request(
    integer, double precision, double precision, integer, integer, integer[]
) TO ml_user, ml_worker;
