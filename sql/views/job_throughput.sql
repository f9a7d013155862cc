-- drop: DROP VIEW IF EXISTS ml.job_throughput;
-- Decision jobs finished per second over the last minute, and their latency from submit to answer.
CREATE VIEW ml.job_throughput AS
SELECT kind,
       count(*) AS jobs_last_minute,
       round(count(*) / 60.0, 1) AS jobs_per_second,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) * 1000)::numeric, 2) AS p50_ms,
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) * 1000)::numeric, 2) AS p99_ms
FROM ml.inference_jobs
WHERE finished_at > clock_timestamp() - interval '1 minute'
GROUP BY kind;
GRANT SELECT ON ml.job_throughput TO ml_worker;
