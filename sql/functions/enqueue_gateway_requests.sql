-- drop: DROP FUNCTION IF EXISTS ml.enqueue_gateway_requests() CASCADE;
-- The legacy gateway's INSERT INTO ai_requests becomes a decision job, in the same transaction: the
-- gateway's SQL stays exactly as it is, and its requests take the same path (queue, worker, batch) as
-- pack requests. Nothing here may raise on the gateway's data: a malformed request is stored as it
-- came and answered by the worker with action 255 and the reason.
CREATE FUNCTION ml.enqueue_gateway_requests() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog
AS $$
BEGIN
    INSERT INTO ml.inference_jobs
        (kind, priority, monster_ids, archetypes, states, signals, pack_leader_ids, gateway_request_id)
    SELECT 'gateway',
           least(greatest(r.priority, 1), 10),
           ARRAY[r.monster_id],
           ARRAY[r.archetype::text],
           CASE WHEN cardinality(r.state_vector) = 0 THEN '{}'::real[]
                ELSE ARRAY[r.state_vector] END,
           ARRAY[ml.signal_vector_or_zeros(r.monster_id)],
           ARRAY[ml.pack_leader_or_null(r.monster_id)],
           r.request_id
    FROM new_requests r;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ai_requests_enqueue AFTER INSERT ON ml.ai_requests
    REFERENCING NEW TABLE AS new_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ml.enqueue_gateway_requests();
