-- drop: DROP FUNCTION IF EXISTS ml.read_monster_memory(bigint[], integer[]);
-- The recurrent states kept for monster_ids[i] under model model_ids[i]: one row (ord = i) per
-- monster that has one, in no set order (sorting 1 KB rows cost an inline pack's lookup a third of
-- its time); a monster without (new, purged, or its model changed) starts from zeros.
-- The worker's claim and inline decisions read through this one function. A SQL-standard body
-- (its names bound when it is created, so no search_path to pin): the planner folds it into the
-- caller's query, where a function with SET would run as a separate plan on every call (measured:
-- an inline pack's lookup 340 -> 221 us, with the caller's generic plan).
CREATE FUNCTION ml.read_monster_memory(model_ids bigint[], monster_ids integer[])
RETURNS TABLE (ord integer, hidden bytea)
LANGUAGE sql
STABLE
BEGIN ATOMIC
    SELECT u.ord::integer, m.hidden
    FROM unnest(read_monster_memory.model_ids, read_monster_memory.monster_ids)
        WITH ORDINALITY AS u(model_id, monster_id, ord)
    JOIN ml.monster_memory AS m ON m.model_id = u.model_id AND m.monster_id = u.monster_id;
END;
GRANT EXECUTE ON FUNCTION ml.read_monster_memory(bigint[], integer[]) TO ml_worker, ml_definer;
