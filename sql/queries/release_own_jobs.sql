-- Worker $1 lost its connection mid-batch and dropped what it held: give those jobs back now
-- instead of waiting for the lease to expire. Returns how many went back to the queue.
WITH released AS (
    UPDATE ml.inference_jobs SET status = 'pending', worker_id = NULL
    WHERE worker_id = $1 AND status = 'running'
    RETURNING id
), wake AS (
    SELECT pg_notify('ml_jobs', '') WHERE EXISTS (SELECT 1 FROM released)
)
SELECT (SELECT count(*) FROM released) AS released, (SELECT count(*) FROM wake) AS woken
