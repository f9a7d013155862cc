-- drop: DROP VIEW IF EXISTS ml.queue_depth;
-- Jobs by queue and status, with the age of the oldest: what is waiting, what is stuck.
CREATE VIEW ml.queue_depth AS
SELECT 'inference' AS queue, kind, status, count(*) AS jobs,
       round(extract(epoch FROM clock_timestamp() - min(created_at))::numeric * 1000, 1) AS oldest_ms
FROM ml.inference_jobs
GROUP BY kind, status
UNION ALL
SELECT 'training', algorithm, status, count(*),
       round(extract(epoch FROM clock_timestamp() - min(created_at))::numeric * 1000, 1)
FROM ml.ml_training_jobs
GROUP BY algorithm, status;
GRANT SELECT ON ml.queue_depth TO ml_worker;
