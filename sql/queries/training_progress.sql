-- Report progress of training job $1 held by worker $2: $3 fraction done, $4 detail (jsonb),
-- $5 checkpoint directory. Returns no row when the job is no longer this worker's to run
-- (cancelled by an operator, or rescued after a stall): the trainer then stops.
WITH updated AS (
    UPDATE ml.ml_training_jobs
    SET progress = $3, progress_detail = $4, checkpoint_dir = coalesce($5, checkpoint_dir),
        heartbeat_at = clock_timestamp()
    WHERE id = $1 AND worker_id = $2 AND status = 'running'
    RETURNING id, progress, progress_detail
)
SELECT id, pg_notify('ml_training', json_build_object('job_id', id, 'progress', progress,
                                                      'detail', progress_detail)::text)
FROM updated
