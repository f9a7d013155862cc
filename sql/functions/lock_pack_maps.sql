-- drop: DROP FUNCTION IF EXISTS ml.lock_pack_maps(integer[]);
-- Takes the pack-formation lock of each map (transaction-scoped advisory locks, in ascending map
-- order, nulls and repeats skipped). ml.form_packs holds a map's lock while it rewrites the map's
-- pack edges; whoever else changes those edges must take the lock first too, before touching any of
-- them: a despawn that deleted a monster's edges and then waited for the lock, while a formation
-- of that map held the lock and waited to delete one of the same edges, was a deadlock (seen in the
-- demo: the game server's despawn against the every-second formation). Re-taking a lock this
-- transaction holds does not wait.
CREATE FUNCTION ml.lock_pack_maps(map_ids integer[]) RETURNS void
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    map_id integer;
BEGIN
    FOR map_id IN SELECT DISTINCT m FROM unnest(map_ids) AS m WHERE m IS NOT NULL ORDER BY m LOOP
        PERFORM pg_advisory_xact_lock(hashtext('ml.form_packs'), map_id);
    END LOOP;
END;
$$;
