-- drop: DROP PROCEDURE IF EXISTS ml.form_dirty_packs();
-- Re-forms the packs of every map whose monsters changed (moved, or changed leadership) since its
-- last formation, one map per transaction so no map's lock is held longer than its own formation.
-- pg_cron calls it every second (`CALL ml.form_dirty_packs()`; it must be called outside a
-- transaction block). Monsters that drift apart or together are re-packed within that second.
-- No SET search_path (a procedure with one cannot COMMIT): every name is qualified instead.
CREATE PROCEDURE ml.form_dirty_packs()
LANGUAGE plpgsql
AS $$
DECLARE
    dirty integer;
    emptied integer[];
BEGIN
    FOR dirty IN
        SELECT m.map_id
        FROM ml.monsters m
        LEFT JOIN ml.pack_maps p ON p.map_id = m.map_id
        GROUP BY m.map_id, p.formed_at
        HAVING max(m.formation_changed_at) > coalesce(p.formed_at, '-infinity')
        ORDER BY m.map_id
    LOOP
        PERFORM ml.form_packs(ARRAY[dirty]);
        COMMIT;
    END LOOP;
    -- Maps left without monsters keep no bookkeeping row. Their formation locks first, as every
    -- writer of a map's pack rows takes them (ml.lock_pack_maps): a sync spawning on two emptied
    -- maps writes each map's row under its lock, and a cleanup that deleted one of those rows
    -- and then waited on the other deadlocked with it (seen in the demo). Only the locked maps'
    -- rows, and only those still empty once the locks are held.
    emptied := ARRAY(SELECT p.map_id FROM ml.pack_maps p
                     WHERE NOT EXISTS (SELECT 1 FROM ml.monsters m WHERE m.map_id = p.map_id));
    PERFORM ml.lock_pack_maps(emptied);
    DELETE FROM ml.pack_maps p
    WHERE p.map_id = ANY (emptied)
      AND NOT EXISTS (SELECT 1 FROM ml.monsters m WHERE m.map_id = p.map_id);
    COMMIT;
END;
$$;
