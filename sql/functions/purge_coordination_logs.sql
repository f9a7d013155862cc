-- drop: DROP FUNCTION IF EXISTS ml.purge_coordination_logs(integer);
-- ml_coordination_logs has a row for every signal sent (the seed's log): a server whose packs
-- signal a hundred times a second adds 8.6 million rows a day. Rows older than
-- signals.log_retention_seconds (ml.config; a day) go, oldest first by the created_at index, at
-- most max_rows a call, so that a backlog goes over several runs of the pg_cron job instead of one
-- long transaction. Returns the number of rows deleted.
CREATE FUNCTION ml.purge_coordination_logs(max_rows integer DEFAULT 20000) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := ml.purge_cutoff('signals.log_retention_seconds', max_rows);
    purged integer;
BEGIN
    DELETE FROM ml.ml_coordination_logs AS l
    WHERE l.id IN (SELECT o.id FROM ml.ml_coordination_logs AS o
                   WHERE o.created_at < cutoff
                   ORDER BY o.created_at
                   LIMIT max_rows);
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
