-- A training job's row as its progress bar reads it ($1 the job's id).
SELECT status, progress, progress_detail, error, model_id, result
FROM ml_training_jobs
WHERE id = $1
