-- drop: DROP FUNCTION IF EXISTS ml.deliver_signal(integer, text, jsonb, integer[], integer);
-- The one path every signal takes: validate, pick the receivers, write one SIGNALS edge per
-- receiver {signal_type, content, priority, dim, weight, sent_at, expires_at} (dim and weight: its
-- encoding, ml.check_signal), log it in ml_coordination_logs.
-- Receivers: pack_monsters (the sender left out, duplicates once), or without it every living
-- monster within signals.signal_range cells (rAthena cell distance) on the sender's map. TTL:
-- signals.ttl_seconds.<type>, else signals.default_ttl_seconds. A null priority takes the type's
-- default (the senders'). Returns the number of receivers. Errors: see ml.broadcast_signal.
-- Limits, checked before anything else (the content is copied onto every receiver's edge: a
-- 5 KB broadcast to 9,999 monsters grew SIGNALS from 312 kB to 58 MB): the content at most
-- limits.signal_content_bytes as JSON text and limits.signal_content_depth levels deep, at most
-- limits.signal_receivers entries in pack_monsters (ML009), which must be one-dimensional (ML008)
-- and hold no null (22004); a broadcast by range reaches the nearest limits.signal_receivers
-- monsters (then the lower ids).
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
    limits record;
    cap double precision;
    content_text text;
BEGIN
    -- The three limits in one statement (each statement is microseconds of a send).
    SELECT (SELECT c.value FROM ml.config c WHERE c.key = 'limits.signal_content_bytes') AS bytes,
           (SELECT c.value FROM ml.config c WHERE c.key = 'limits.signal_content_depth') AS depth,
           (SELECT c.value FROM ml.config c WHERE c.key = 'limits.signal_receivers') AS receivers
    INTO limits;
    IF jsonb_typeof(limits.bytes) IS DISTINCT FROM 'number' THEN
        PERFORM ml.config_number('limits.signal_content_bytes');  -- raises F0000, naming it
    ELSIF jsonb_typeof(limits.depth) IS DISTINCT FROM 'number' THEN
        PERFORM ml.config_number('limits.signal_content_depth');
    ELSIF jsonb_typeof(limits.receivers) IS DISTINCT FROM 'number' THEN
        PERFORM ml.config_number('limits.signal_receivers');
    END IF;
    IF data IS NOT NULL THEN
        cap := limits.bytes::double precision;
        -- The stored size first (jsonb is never 64 times its text): a huge value is refused
        -- before it is printed as text.
        IF pg_column_size(data) > 64 * cap THEN
            RAISE EXCEPTION 'signal content is over % bytes of JSON; at most %', 64 * cap, cap
                USING ERRCODE = 'ML009', HINT = 'ml.config limits.signal_content_bytes';
        END IF;
        content_text := data::text;
        IF octet_length(content_text) > cap THEN
            RAISE EXCEPTION 'signal content is % bytes of JSON; at most %',
                octet_length(content_text), cap
                USING ERRCODE = 'ML009', HINT = 'ml.config limits.signal_content_bytes';
        END IF;
        cap := limits.depth::double precision;
        -- Deeper than cap takes more than cap brackets: most contents are not walked at all.
        IF octet_length(content_text) - octet_length(translate(content_text, '[{', '')) > cap
           AND jsonb_path_exists(data, format('strict $.**{%s to last}', cap + 1)::jsonpath) THEN
            RAISE EXCEPTION 'signal content nests more than % levels deep', cap
                USING ERRCODE = 'ML009', HINT = 'ml.config limits.signal_content_depth';
        END IF;
    END IF;
    IF array_ndims(pack_monsters) > 1 THEN
        RAISE EXCEPTION 'pack_monsters must be a one-dimensional array of monster ids, got %',
            array_dims(pack_monsters)
            USING ERRCODE = 'ML008';
    END IF;
    cap := limits.receivers::double precision;
    IF cardinality(pack_monsters) > cap THEN
        RAISE EXCEPTION 'pack_monsters has % entries; at most % per signal',
            cardinality(pack_monsters), cap
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.signal_receivers';
    END IF;
    IF array_position(pack_monsters, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'pack_monsters[%] is null: monster ids must not be null',
            array_position(pack_monsters, NULL)
            USING ERRCODE = '22004';
    END IF;

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
        SELECT array_agg(n.id ORDER BY n.id) AS ids, array_agg(n.vertex_id) AS vertices INTO picked
        FROM (SELECT m.id, m.vertex_id
              FROM ml.monsters m
              WHERE m.map_id = sender.map_id AND m.id <> from_monster_id AND m.hp_ratio > 0
                AND greatest(abs(m.x - sender.x), abs(m.y - sender.y)) <= reach
              ORDER BY greatest(abs(m.x - sender.x), abs(m.y - sender.y)), m.id
              LIMIT cap::bigint) AS n;
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
