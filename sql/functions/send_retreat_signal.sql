-- drop: DROP FUNCTION IF EXISTS ml.send_retreat_signal(integer, integer, integer, text, integer[]);
-- The seed's send_retreat_signal: fall back to the rally point. Content {rally_point: [x, y],
-- reason}; priority 1; encoded in dim 24. Returns the receivers; errors as ml.broadcast_signal.
CREATE FUNCTION ml.send_retreat_signal(
    from_monster_id integer,
    rally_x integer,
    rally_y integer,
    reason text DEFAULT NULL,
    pack_monsters integer[] DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    RETURN ml.deliver_signal(
        from_monster_id, 'retreat',
        jsonb_build_object('rally_point', jsonb_build_array(rally_x, rally_y), 'reason', reason),
        pack_monsters, NULL);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.send_retreat_signal(integer, integer, integer, text, integer[])
    TO ml_user, ml_worker;
