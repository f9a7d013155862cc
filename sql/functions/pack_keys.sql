-- drop: DROP FUNCTION IF EXISTS ml.pack_keys(integer[], boolean);
-- The pack each monster of a batch hunts with, in the order given, as a decision job records it:
-- its leader's id (its own when it leads), or for a pack of equals (TEAMMATE_OF only: formation
-- always names a leader, edges made by hand may not) the lowest id among it and its mates; null
-- when it hunts alone. One statement and at most three index probes per monster, no graph walk: it
-- runs for every monster of every decision request. Beyond 16 monsters (a batch), the same keys
-- set-based (ml.pack_keys_of_batch). A monster the database does not know raises P0002 when
-- must_exist, and gets null otherwise (the legacy gateway never raises).
CREATE FUNCTION ml.pack_keys(monster_ids integer[], must_exist boolean) RETURNS integer[]
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    keys integer[];
    unknown integer;
    any_unknown boolean;
BEGIN
    IF cardinality(monster_ids) > 16 THEN
        SELECT b.keys, b.unknown, b.any_unknown INTO keys, unknown, any_unknown
        FROM ml.pack_keys_of_batch(monster_ids) AS b;
    ELSE
        SELECT array_agg(CASE
                   WHEN m.id IS NULL THEN NULL
                   WHEN EXISTS (SELECT 1 FROM monster_ai."LEADS" e WHERE e.start_id = m.vertex_id)
                       THEN m.id
                   ELSE coalesce(
                       (SELECT min(s.id) FROM monster_ai."LEADS" e
                        JOIN ml.monsters s ON s.vertex_id = e.start_id
                        WHERE e.end_id = m.vertex_id),
                       (SELECT CASE WHEN count(*) > 0 THEN least(m.id, min(s.id)) END
                        FROM monster_ai."TEAMMATE_OF" e
                        JOIN ml.monsters s ON s.vertex_id = e.end_id
                        WHERE e.start_id = m.vertex_id))
               END ORDER BY u.ord),
               (array_agg(u.id ORDER BY u.ord) FILTER (WHERE m.id IS NULL))[1],
               bool_or(m.id IS NULL)
        INTO keys, unknown, any_unknown
        FROM unnest(monster_ids) WITH ORDINALITY AS u(id, ord)
        LEFT JOIN ml.monsters m ON m.id = u.id;
    END IF;
    IF any_unknown AND must_exist THEN
        RAISE EXCEPTION 'unknown monster %', coalesce(unknown::text, 'null')
            USING ERRCODE = 'P0002', HINT = 'monsters exist once ml.sync_monsters has sent them';
    END IF;
    RETURN keys;
END;
$$;
