-- drop: DROP FUNCTION IF EXISTS ml.submit_decision_job(integer[], text[], real[], bytea, integer);
-- The one body behind the typed and packed decision requests (ml.request_pack_actions,
-- ml.request_pack_actions_packed): checks a request and queues it. The states come in exactly one
-- of two forms: `states` n x 64 real[], or `states_f32` n x 64 float32 little-endian, packed.
-- Errors (nothing is written; codes as in docs/coordination.md): ML005 empty or ragged request;
-- ML009 oversized; ML004 states of the wrong size, or a real[] state that is not 64 finite floats;
-- ML002 priority outside 1-10; 22P02 unknown archetype; 23505 a monster twice; P0002 unknown monster.
-- A packed state is not read here (that would mean decoding every float in SQL): one that holds
-- NaN or infinity fails its job in the worker, with the monster named in the job's error.
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
    n integer := coalesce(cardinality(monster_ids), 0);
    known constant text[] := '{aggressive,defensive,support,mage,tank,ranged}';
    bad text;
    job_id bigint;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'request has no monsters' USING ERRCODE = 'ML005';
    END IF;
    -- The queue's own bound; the callers check limits.request_monsters (at most this) before.
    IF n > 1024 THEN
        RAISE EXCEPTION 'request has % monsters; at most 1024 per request', n USING ERRCODE = 'ML009';
    END IF;
    IF priority IS NULL OR priority NOT BETWEEN 1 AND 10 THEN
        RAISE EXCEPTION 'priority must be between 1 and 10, got %', priority USING ERRCODE = 'ML002';
    END IF;
    IF coalesce(cardinality(archetypes), 0) <> n THEN
        RAISE EXCEPTION 'request has % monster ids but % archetypes', n, coalesce(cardinality(archetypes), 0)
            USING ERRCODE = 'ML005';
    END IF;
    IF states_f32 IS NOT NULL THEN
        IF states IS NOT NULL THEN
            RAISE EXCEPTION 'states given twice (real[] and packed)' USING ERRCODE = 'ML004';
        END IF;
        IF octet_length(states_f32) <> n * 256 THEN
            RAISE EXCEPTION 'packed states must be % x 64 float32 (% bytes), got % bytes',
                n, n * 256, octet_length(states_f32) USING ERRCODE = 'ML004';
        END IF;
    ELSE
        IF array_ndims(states) IS DISTINCT FROM 2 OR array_length(states, 1) <> n
           OR array_length(states, 2) <> 64 THEN
            RAISE EXCEPTION 'states must be % x 64 floats, got %', n, coalesce(array_dims(states), 'nothing')
                USING ERRCODE = 'ML004';
        END IF;
        IF NOT ml.all_finite(states) THEN
            RAISE EXCEPTION 'each state must be exactly 64 numbers, all finite (found NaN, infinity or null)'
                USING ERRCODE = 'ML004';
        END IF;
    END IF;
    IF NOT archetypes <@ known THEN  -- a null is contained in nothing
        SELECT a INTO bad FROM unnest(archetypes) AS a WHERE a IS NULL OR a <> ALL (known) LIMIT 1;
        RAISE EXCEPTION 'unknown archetype %', coalesce(quote_literal(bad), 'null')
            USING ERRCODE = '22P02',
                  HINT = 'archetypes: aggressive, defensive, support, mage, tank, ranged';
    END IF;
    IF (SELECT count(DISTINCT m) FROM unnest(monster_ids) AS m) <> n THEN
        RAISE EXCEPTION 'a monster appears twice in one request' USING ERRCODE = '23505';
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
