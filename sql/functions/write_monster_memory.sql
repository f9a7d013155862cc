-- drop: DROP FUNCTION IF EXISTS ml.write_monster_memory(bigint[], integer[], bytea[]);
-- Keeps each monster's new recurrent state (hidden[i] for monster_ids[i] under model model_ids[i]);
-- a monster twice keeps its last. Returns how many it wrote. A monster whose memory another open
-- transaction is writing (a client's ml.decide_pack not yet committed) is skipped, never waited
-- for: its memory misses this one step, and no client's open transaction can stall the worker or
-- another client. The writers' claim is a transaction-scoped advisory lock per monster, tried and
-- never awaited; only definer bodies and the worker may take advisory locks at all
-- (sql/security/advisory_locks.sql), so a client cannot hold one any other way. PL/pgSQL, not
-- SQL: it keeps its plan for the session, where a SQL function with SET is planned on every call
-- (an inline pack's write: 216 -> 96 us).
CREATE FUNCTION ml.write_monster_memory(model_ids bigint[], monster_ids integer[], hidden bytea[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    written_count integer;
BEGIN
    WITH latest AS (
        SELECT DISTINCT ON (u.model_id, u.monster_id) u.model_id, u.monster_id, u.hidden
        FROM unnest(write_monster_memory.model_ids, write_monster_memory.monster_ids,
                    write_monster_memory.hidden) WITH ORDINALITY AS u(model_id, monster_id, hidden, ord)
        ORDER BY u.model_id, u.monster_id, u.ord DESC
    ), written AS (
        INSERT INTO ml.monster_memory AS m (model_id, monster_id, hidden)
        SELECT l.model_id, l.monster_id, l.hidden
        FROM latest AS l
        WHERE pg_try_advisory_xact_lock(hashtext('ml.monster_memory'), l.monster_id)
        ON CONFLICT (model_id, monster_id) DO UPDATE
            SET hidden = EXCLUDED.hidden, updated_at = now()
        RETURNING 1
    )
    SELECT count(*)::integer INTO written_count FROM written;
    RETURN written_count;
END;
$$;
GRANT EXECUTE ON FUNCTION ml.write_monster_memory(bigint[], integer[], bytea[]) TO ml_worker, ml_definer;
