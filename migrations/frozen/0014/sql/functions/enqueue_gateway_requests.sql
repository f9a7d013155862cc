-- drop: DROP FUNCTION IF EXISTS ml.enqueue_gateway_requests() CASCADE;
-- The legacy gateway's INSERT INTO ai_requests becomes a decision job, in the same transaction: the
-- gateway's SQL stays exactly as it is, and its requests take the same path (queue, worker, batch) as
-- pack requests. Nothing here may raise on the gateway's data: a malformed request is stored as it
-- came and answered by the worker with action 255 and the reason.
--
-- A gateway request names no monster: the rAthena gateway writes the mob's TYPE id into both
-- monster_id and mob_id, so every monster of a type sends the same id. Nothing is looked up by it
-- (revision 0014): no pack (pack_leader_ids {NULL}) and no signals, which before were read for
-- whichever monster instance happened to have that id and shared by every monster of the type. The
-- combat model answers from the request's state alone (docs/onnx_contract.md, "Model types").
CREATE FUNCTION ml.enqueue_gateway_requests() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO ml.inference_jobs
        (kind, priority, monster_ids, archetypes, states, signal_rows, signal_dims,
         signal_weights, pack_leader_ids, gateway_request_id)
    SELECT 'gateway',
           least(greatest(r.priority, 1), 10),
           ARRAY[r.monster_id],
           ARRAY[r.archetype::text],
           CASE WHEN cardinality(r.state_vector) = 0 THEN '{}'::real[]
                ELSE ARRAY[r.state_vector] END,
           '{}'::integer[], '{}'::integer[], '{}'::real[],
           ARRAY[NULL::integer],
           r.request_id
    FROM new_requests r
    ORDER BY r.request_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ai_requests_enqueue AFTER INSERT ON ml.ai_requests
    REFERENCING NEW TABLE AS new_requests
    FOR EACH STATEMENT EXECUTE FUNCTION ml.enqueue_gateway_requests();
