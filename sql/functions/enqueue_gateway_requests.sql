-- drop: DROP FUNCTION IF EXISTS ml.enqueue_gateway_requests() CASCADE;
-- The legacy gateway's INSERT INTO ai_requests becomes a decision job, in the same transaction: the
-- gateway's SQL stays exactly as it is, and its requests take the same path (queue, worker, batch) as
-- pack requests. Nothing here may raise on the gateway's data: a malformed request is stored as it
-- came and answered by the worker with action 255 and the reason; a monster the product has not
-- seen gets 32 zero signals and no pack. Pack keys and signal vectors are resolved for the whole
-- statement at once (ml.pack_keys, ml.signal_vectors), as for a pack request.
CREATE FUNCTION ml.enqueue_gateway_requests() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog
AS $$
BEGIN
    WITH requests AS (
        SELECT r.*, row_number() OVER (ORDER BY r.request_id)::integer AS i FROM new_requests r
    ), batch AS (
        SELECT array_agg(q.monster_id ORDER BY q.i) AS ids FROM requests q
    ), context AS (
        SELECT ml.signal_vectors(b.ids) AS signals, ml.pack_keys(b.ids, false) AS keys FROM batch b
    )
    INSERT INTO ml.inference_jobs
        (kind, priority, monster_ids, archetypes, states, signals, pack_leader_ids, gateway_request_id)
    SELECT 'gateway',
           least(greatest(r.priority, 1), 10),
           ARRAY[r.monster_id],
           ARRAY[r.archetype::text],
           CASE WHEN cardinality(r.state_vector) = 0 THEN '{}'::real[]
                ELSE ARRAY[r.state_vector] END,
           c.signals[r.i:r.i][1:32],
           ARRAY[c.keys[r.i]],
           r.request_id
    FROM requests r, context c;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ai_requests_enqueue AFTER INSERT ON ml.ai_requests
    REFERENCING NEW TABLE AS new_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ml.enqueue_gateway_requests();
