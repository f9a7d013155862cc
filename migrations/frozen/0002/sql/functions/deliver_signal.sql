-- drop: DROP FUNCTION IF EXISTS ml.deliver_signal(integer, text, jsonb, integer[], integer);
-- The one path every signal takes: validate, pick the receivers, write one SIGNALS edge per
-- receiver {signal_type, content, priority, dim, weight, sent_at, expires_at} (dim and weight: its
-- encoding, ml.check_signal), log it in ml_coordination_logs.
-- Receivers: pack_monsters (the sender left out, duplicates once), or without it every living
-- monster within signals.signal_range cells (rAthena cell distance) on the sender's map. TTL:
-- signals.ttl_seconds.<type>, else signals.default_ttl_seconds. A null priority takes the type's
-- default (the senders'). Returns the number of receivers. Errors: see ml.broadcast_signal.
-- Few statements on purpose: each costs a few microseconds on the game server's hot path.
CREATE FUNCTION ml.deliver_signal(
    from_monster_id integer, signal_type text, data jsonb, pack_monsters integer[], priority integer
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    checked record;
    sender record;
    picked record;
    at timestamptz := ml.clock_now();
    properties ag_catalog.agtype;
    reach double precision;
BEGIN
    SELECT c.canonical_type, c.resolved_priority, c.dimension, c.weight INTO checked
    FROM ml.check_signal(signal_type, data, priority) AS c;

    -- The sender, and its pack for the log (named by its leader: itself, or the one it follows).
    SELECT m.id, m.vertex_id, m.map_id, m.x, m.y,
           CASE WHEN (SELECT 1 FROM monster_ai."LEADS" e
                      WHERE e.start_id = m.vertex_id LIMIT 1) IS NOT NULL
                THEN m.id
                ELSE (SELECT min(s.id) FROM ml.monsters s
                      WHERE s.vertex_id = ANY (ARRAY(SELECT e.start_id FROM monster_ai."LEADS" e
                                                     WHERE e.end_id = m.vertex_id)))
           END AS pack_id
    INTO sender
    FROM ml.monsters m WHERE m.id = from_monster_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown monster % (the sender)', coalesce(from_monster_id::text, 'null')
            USING ERRCODE = 'P0002', HINT = 'monsters exist once ml.sync_monsters has sent them';
    END IF;

    IF pack_monsters IS NOT NULL THEN
        -- The receivers by their primary key: the index yields each id once and in order, so
        -- the aggregates need no sort of their own (executor set-up is most of a send's cost).
        SELECT array_agg(m.id ORDER BY m.id) FILTER (WHERE m.id <> from_monster_id) AS ids,
               array_agg(m.vertex_id ORDER BY m.id) FILTER (WHERE m.id <> from_monster_id)
                   AS vertices,
               coalesce(pack_monsters <@ array_agg(m.id ORDER BY m.id),
                        cardinality(pack_monsters) = 0) AS all_known
        INTO picked
        FROM ml.monsters m
        WHERE m.id = ANY (pack_monsters);
        IF NOT picked.all_known THEN  -- name the first unknown id (or null), in array order
            SELECT u.id INTO picked
            FROM unnest(pack_monsters) WITH ORDINALITY AS u(id, ord)
            WHERE NOT EXISTS (SELECT 1 FROM ml.monsters m WHERE m.id = u.id)
            ORDER BY u.ord
            LIMIT 1;
            RAISE EXCEPTION 'unknown monster % in pack_monsters',
                coalesce(picked.id::text, 'null')
                USING ERRCODE = 'P0002',
                      HINT = 'monsters exist once ml.sync_monsters has sent them';
        END IF;
        IF picked.ids IS NULL THEN
            RAISE EXCEPTION 'a pack of one: pack_monsters names nobody besides the sender %',
                from_monster_id
                USING ERRCODE = 'ML006',
                      HINT = 'a pack has at least 2 monsters; pass null to reach everyone in range';
        END IF;
    ELSE
        reach := ml.config_number('signals.signal_range');
        SELECT array_agg(m.id ORDER BY m.id) AS ids, array_agg(m.vertex_id) AS vertices INTO picked
        FROM ml.monsters m
        WHERE m.map_id = sender.map_id AND m.id <> from_monster_id AND m.hp_ratio > 0
          AND greatest(abs(m.x - sender.x), abs(m.y - sender.y)) <= reach;
    END IF;

    IF picked.vertices IS NOT NULL THEN
        properties := ag_catalog.agtype_build_map(
            'signal_type', checked.canonical_type,
            'content', data::text::ag_catalog.agtype,
            'priority', checked.resolved_priority,
            -- its encoding (ml.check_signal), read by every decision request while it lives
            'dim', checked.dimension,
            'weight', checked.weight,
            'sent_at', ml.graph_time(at),
            'expires_at', ml.graph_time(at + make_interval(secs => coalesce(
                (SELECT c.value::double precision FROM ml.config c
                 WHERE c.key = 'signals.ttl_seconds.' || checked.canonical_type),
                ml.config_number('signals.default_ttl_seconds')))));
        INSERT INTO monster_ai."SIGNALS" (start_id, end_id, properties)
        SELECT sender.vertex_id, r.vertex, properties FROM unnest(picked.vertices) AS r(vertex);
    END IF;

    INSERT INTO ml.ml_coordination_logs
        (pack_id, signal_type, from_monster_id, to_monster_ids, signal_content, success, created_at)
    SELECT sender.pack_id,
           checked.canonical_type, from_monster_id, coalesce(picked.ids, '{}'), data,
           picked.ids IS NOT NULL, at;
    RETURN coalesce(cardinality(picked.ids), 0);
END;
$$;
