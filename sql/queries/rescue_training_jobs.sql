-- Re-queue training jobs whose runner stopped heartbeating for $1 seconds; the retry resumes from
-- the job's last checkpoint. Out of attempts: dead, with the reason.
WITH stale AS (
    UPDATE ml.ml_training_jobs
    SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
        error = format('training runner %s stopped heartbeating (attempt %s of %s)',
                       worker_id, attempts, max_attempts),
        worker_id = NULL,
        finished_at = CASE WHEN attempts >= max_attempts THEN clock_timestamp() END
    WHERE status = 'running' AND heartbeat_at < clock_timestamp() - make_interval(secs => $1)
    RETURNING id, status
)
SELECT count(*) FILTER (WHERE status = 'pending') AS requeued,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       count(pg_notify('ml_training', '')) AS woken
FROM stale
