-- How many maps the next `CALL ml.form_dirty_packs()` re-forms: its own selection (a map whose
-- monsters changed since the map's last formation), counted.
SELECT count(*)
FROM (
    SELECT m.map_id
    FROM ml.monsters m
    LEFT JOIN ml.pack_maps p ON p.map_id = m.map_id
    GROUP BY m.map_id, p.formed_at
    HAVING max(m.formation_changed_at) > coalesce(p.formed_at, '-infinity')
) AS dirty
