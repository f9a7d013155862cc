-- Training job $1 of worker $2 ends: $3 status ('done' | 'failed' | 'pending' to retry), $4 result,
-- $5 error, $6 registered model id. A retry that is out of attempts goes dead.
WITH finished AS (
    UPDATE ml.ml_training_jobs
    SET status = CASE WHEN $3 = 'pending' AND attempts >= max_attempts THEN 'dead' ELSE $3 END,
        result = $4, error = $5, model_id = $6,
        progress = CASE WHEN $3 = 'done' THEN 1 ELSE progress END,
        worker_id = CASE WHEN $3 = 'pending' THEN NULL ELSE worker_id END,
        finished_at = CASE WHEN $3 = 'pending' AND attempts < max_attempts THEN NULL
                           ELSE clock_timestamp() END
    WHERE id = $1 AND worker_id = $2 AND status = 'running'
    RETURNING id, status, error, model_id
)
SELECT id, status, pg_notify('ml_training', json_build_object('job_id', id, 'status', status,
                                                              'error', error, 'model_id', model_id)::text)
FROM finished
