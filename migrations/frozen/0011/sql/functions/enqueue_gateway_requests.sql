-- drop: DROP FUNCTION IF EXISTS ml.enqueue_gateway_requests() CASCADE;
-- The legacy gateway's INSERT INTO ai_requests becomes a decision job, in the same transaction: the
-- gateway's SQL stays exactly as it is, and its requests take the same path (queue, worker, batch) as
-- pack requests. Nothing here may raise on the gateway's data: a malformed request is stored as it
-- came and answered by the worker with action 255 and the reason; a monster the product has not
-- seen gets 32 zero signals and no pack. Beyond 16 rows to a statement, pack keys and signal
-- vectors are resolved for the whole statement at once (ml.pack_keys, ml.signal_entries), as for a
-- pack request.
CREATE FUNCTION ml.enqueue_gateway_requests() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    -- The gateway inserts one row per statement: its monster's context straight from the
    -- one-monster forms of ml.pack_keys and ml.signal_entries. The batch's statement below, for
    -- one row, made the gateway's whole INSERT 7-14% slower (pgbench, bench/RESULTS.md).
    IF (SELECT count(*) FROM new_requests) <= 16 THEN
        INSERT INTO ml.inference_jobs
            (kind, priority, monster_ids, archetypes, states, signal_rows, signal_dims,
             signal_weights, pack_leader_ids, gateway_request_id)
        SELECT 'gateway',
               least(greatest(r.priority, 1), 10),
               ARRAY[r.monster_id],
               ARRAY[r.archetype::text],
               CASE WHEN cardinality(r.state_vector) = 0 THEN '{}'::real[]
                    ELSE ARRAY[r.state_vector] END,
               e.rows, e.dims, e.weights,
               ml.pack_keys(ARRAY[r.monster_id], false),
               r.request_id
        FROM new_requests r
        CROSS JOIN LATERAL ml.signal_entries(ARRAY[r.monster_id]) AS e
        ORDER BY r.request_id;
        RETURN NULL;
    END IF;
    WITH requests AS (
        SELECT r.*, row_number() OVER (ORDER BY r.request_id)::integer AS i FROM new_requests r
    ), batch AS (
        SELECT array_agg(q.monster_id ORDER BY q.i) AS ids FROM requests q
    ), context AS (
        SELECT e.rows, e.dims, e.weights, ml.pack_keys(b.ids, false) AS keys
        FROM batch b, ml.signal_entries(b.ids) AS e
    )
    INSERT INTO ml.inference_jobs
        (kind, priority, monster_ids, archetypes, states, signal_rows, signal_dims, signal_weights,
         pack_leader_ids, gateway_request_id)
    SELECT 'gateway',
           least(greatest(r.priority, 1), 10),
           ARRAY[r.monster_id],
           ARRAY[r.archetype::text],
           CASE WHEN cardinality(r.state_vector) = 0 THEN '{}'::real[]
                ELSE ARRAY[r.state_vector] END,
           own.rows, own.dims, own.weights,
           ARRAY[c.keys[r.i]],
           r.request_id
    FROM requests r
    CROSS JOIN context c
    -- request i's entries of the batch's, in one pass, as the entries of a one-monster job
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(1 ORDER BY u.n), '{}') AS rows,
               coalesce(array_agg(u.d ORDER BY u.n), '{}') AS dims,
               coalesce(array_agg(u.w ORDER BY u.n), '{}') AS weights
        FROM unnest(c.rows, c.dims, c.weights) WITH ORDINALITY AS u(k, d, w, n)
        WHERE u.k = r.i
    ) AS own;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ai_requests_enqueue AFTER INSERT ON ml.ai_requests
    REFERENCING NEW TABLE AS new_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ml.enqueue_gateway_requests();
