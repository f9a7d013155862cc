-- Claim the next pending training job for worker $1 (one at a time: training is long).
UPDATE ml.ml_training_jobs AS j
SET status = 'running',
    worker_id = $1,
    attempts = j.attempts + 1,
    heartbeat_at = clock_timestamp(),
    started_at = coalesce(j.started_at, clock_timestamp()),
    error = NULL
FROM (
    SELECT id FROM ml.ml_training_jobs
    WHERE status = 'pending'
    ORDER BY priority, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) AS picked
WHERE j.id = picked.id
RETURNING j.id, j.archetype, j.algorithm, j.config, j.attempts, j.max_attempts, j.checkpoint_dir
