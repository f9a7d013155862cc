-- Training job $1 is still alive under worker $2 (stamped between progress reports too).
UPDATE ml.ml_training_jobs SET heartbeat_at = clock_timestamp()
WHERE id = $1 AND worker_id = $2 AND status = 'running'
RETURNING id
