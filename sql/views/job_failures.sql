-- drop: DROP VIEW IF EXISTS ml.job_failures;
-- Failed and dead jobs grouped by their error: what goes wrong, how often, last seen.
CREATE VIEW ml.job_failures AS
SELECT 'inference' AS queue, status, error, count(*) AS jobs, max(finished_at) AS last_seen
FROM ml.inference_jobs
WHERE status IN ('failed', 'dead')
GROUP BY status, error
UNION ALL
SELECT 'training', status, error, count(*), max(finished_at)
FROM ml.ml_training_jobs
WHERE status IN ('failed', 'dead')
GROUP BY status, error;
GRANT SELECT ON ml.job_failures TO ml_worker;
