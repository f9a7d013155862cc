-- drop: DROP FUNCTION IF EXISTS ml.submit_decision_job(integer[], text[], real[], bytea, integer);
-- The one body behind the typed and packed decision requests (ml.request_pack_actions,
-- ml.request_pack_actions_packed): checks a request (ml.check_decision_job, then ML002 for a
-- priority outside 1-10) and queues it; P0002 for an unknown monster. Nothing is written on an
-- error. A packed state is not read here (that would mean decoding every float in SQL): one that
-- holds NaN or infinity fails its job in the worker, with the monster named in the job's error.
CREATE FUNCTION ml.submit_decision_job(
    monster_ids integer[],
    archetypes text[],
    states real[],
    states_f32 bytea,
    priority integer
) RETURNS bigint
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    job_id bigint;
BEGIN
    PERFORM ml.check_decision_job(monster_ids, archetypes, states, states_f32);
    IF priority IS NULL OR priority NOT BETWEEN 1 AND 10 THEN
        RAISE EXCEPTION 'priority must be between 1 and 10, got %', priority USING ERRCODE = 'ML002';
    END IF;

    -- Pack membership (P0002 for a monster the game server never synced) and the non-zero
    -- entries of the monsters' signal vectors, set-based: one statement for the whole request
    -- (the signals were encoded when they were sent).
    INSERT INTO ml.inference_jobs (kind, priority, monster_ids, archetypes, states, states_f32,
                                   signal_rows, signal_dims, signal_weights, pack_leader_ids)
    SELECT 'pack', priority, monster_ids, archetypes, states, states_f32,
           e.rows, e.dims, e.weights, ml.pack_keys(monster_ids, true)
    FROM ml.signal_entries(monster_ids) AS e
    RETURNING id INTO job_id;
    RETURN job_id;
END;
$$;
