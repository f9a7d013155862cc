-- drop: DROP FUNCTION IF EXISTS ml.submit_training(text, text, jsonb, integer);
-- Queue a training job (the same as INSERT INTO ml_training_jobs). Returns its id; progress is in
-- its row and on channel ml_training. Errors: 22P02 unknown archetype or algorithm (the known ones
-- are the rows of ml.training_algorithms, named in the error's hint).
CREATE FUNCTION ml.submit_training(
    archetype text,
    algorithm text DEFAULT 'mappo',
    config jsonb DEFAULT '{}'::jsonb,
    priority integer DEFAULT 5
) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    job_id bigint;
BEGIN
    IF archetype IS NULL OR archetype NOT IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged') THEN
        RAISE EXCEPTION 'unknown archetype %', coalesce(quote_literal(archetype), 'null')
            USING ERRCODE = '22P02';
    END IF;
    IF algorithm IS NULL OR NOT EXISTS (
        SELECT 1 FROM ml.training_algorithms a WHERE a.name = submit_training.algorithm
    ) THEN
        RAISE EXCEPTION 'unknown training algorithm %', coalesce(quote_literal(algorithm), 'null')
            USING ERRCODE = '22P02',
                  HINT = 'algorithms: ' || (
                      SELECT pg_catalog.string_agg(a.name, ', ' ORDER BY a.name)
                      FROM ml.training_algorithms a
                  );
    END IF;
    INSERT INTO ml.ml_training_jobs (archetype, algorithm, config, priority)
    VALUES (archetype, algorithm, coalesce(config, '{}'::jsonb), priority)
    RETURNING id INTO job_id;
    RETURN job_id;
END;
$$;
