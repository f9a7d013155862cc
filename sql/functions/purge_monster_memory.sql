-- drop: DROP FUNCTION IF EXISTS ml.purge_monster_memory(integer);
-- Deletes recurrent memory older than serving.memory_ttl_seconds (a despawned monster's, a retired
-- model's), at most max_rows a call, oldest first; returns how many. A row a decision is writing
-- now is left for the next run (the writers' advisory lock, tried, never awaited).
CREATE FUNCTION ml.purge_monster_memory(max_rows integer DEFAULT 20000) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := ml.purge_cutoff('serving.memory_ttl_seconds', max_rows);
    purged integer;
BEGIN
    DELETE FROM ml.monster_memory AS m
    WHERE (m.model_id, m.monster_id) IN (
              SELECT o.model_id, o.monster_id FROM ml.monster_memory AS o
              WHERE o.updated_at < cutoff
              ORDER BY o.updated_at
              LIMIT max_rows)
      AND pg_try_advisory_xact_lock(hashtext('ml.monster_memory'), m.monster_id);
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
