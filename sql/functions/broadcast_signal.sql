-- drop: DROP FUNCTION IF EXISTS ml.broadcast_signal(integer, text, jsonb, integer[], integer);
-- Sends a signal (the seed's SignalCoordinator.broadcast_signal) and returns how many monsters
-- receive it: pack_monsters (the sender left out), or without it every living monster within
-- signals.signal_range (15) cells on the sender's map. Types: attack_target (alias focus_fire),
-- retreat, formation_command, help_request, directive; data is the signal's content object (see
-- docs/coordination.md). It expires after its type's TTL and is logged in ml_coordination_logs.
-- Errors (nothing is written): P0002 unknown sender or receiver; ML001 unknown signal type; ML002
-- priority outside 1-10; ML003 NaN or out-of-range threat/urgency/hp_ratio; ML005 data not an
-- object, or a field missing or mistyped; ML006 a pack of one; ML007 unknown formation type.
CREATE FUNCTION ml.broadcast_signal(
    from_monster_id integer,
    signal_type text,
    data jsonb,
    pack_monsters integer[] DEFAULT NULL,
    priority integer DEFAULT 5
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
BEGIN
    IF priority IS NULL THEN
        RAISE EXCEPTION 'priority must be between 1 and 10, got null' USING ERRCODE = 'ML002';
    END IF;
    RETURN ml.deliver_signal(from_monster_id, signal_type, data, pack_monsters, priority);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.broadcast_signal(integer, text, jsonb, integer[], integer)
    TO ml_user, ml_worker;
