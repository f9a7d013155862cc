-- drop: DROP FUNCTION IF EXISTS ml.queue_retraining();
-- Continuous learning (docs/model_zoo.md): for each archetype and model type the game server records
-- experience for (ml.record_experience), a training job of continuous_learning.algorithm (offline:
-- it learns from that experience) is queued once continuous_learning.min_new_experiences
-- transitions arrived since the newest model of that archetype and type was registered, unless one
-- is already pending or running. Returns how many it queued. pg_cron runs it every minute; each
-- count stops at the threshold (an index range of ml_experience_replay, never the whole table).
CREATE FUNCTION ml.queue_retraining() RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    needed constant bigint := ml.config_number('continuous_learning.min_new_experiences')::bigint;
    algorithm_name constant text := (SELECT c.value #>> '{}' FROM ml.config AS c
                                     WHERE c.key = 'continuous_learning.algorithm');
    queued integer;
BEGIN
    IF algorithm_name IS NULL THEN
        RAISE EXCEPTION 'ml.config has no continuous_learning.algorithm' USING ERRCODE = 'F0000';
    END IF;
    IF needed <= 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO ml.ml_training_jobs (archetype, algorithm, config)
    SELECT t.archetype, algorithm_name,
           jsonb_build_object('training', jsonb_build_object('model_type', t.model_type))
    FROM (VALUES ('pack_coordination'), ('combat')) AS k(model_type)
    CROSS JOIN LATERAL (
        SELECT a.archetype, k.model_type
        FROM unnest('{aggressive,defensive,support,mage,tank,ranged}'::text[]) AS a(archetype)
    ) AS t
    WHERE NOT EXISTS (
        SELECT FROM ml.ml_training_jobs AS j
        WHERE j.archetype = t.archetype AND j.status IN ('pending', 'running')
          AND coalesce(j.config -> 'training' ->> 'model_type', 'pack_coordination') = t.model_type)
      AND (SELECT count(*) FROM (
              SELECT FROM ml.ml_experience_replay AS e
              WHERE e.archetype = t.archetype AND e.model_type = t.model_type
                AND e.created_at > coalesce(
                    (SELECT max(m.created_at) FROM ml.ml_models AS m
                     WHERE m.archetype = t.archetype AND m.model_type = t.model_type),
                    '-infinity')
              LIMIT needed) AS fresh) >= needed;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END;
$$;
