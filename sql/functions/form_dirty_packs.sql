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
    -- Maps left without monsters keep no bookkeeping row.
    DELETE FROM ml.pack_maps p
    WHERE NOT EXISTS (SELECT 1 FROM ml.monsters m WHERE m.map_id = p.map_id);
    COMMIT;
END;
$$;
