-- Worker $1 is alive: stamp it and every job it holds ($2 jobs done so far, $3 its status).
WITH me AS (
    UPDATE ml.workers SET heartbeat_at = now(), jobs_done = $2, status = $3
    WHERE worker_id = $1
    RETURNING worker_id
)
UPDATE ml.inference_jobs SET heartbeat_at = clock_timestamp()
WHERE worker_id = (SELECT worker_id FROM me) AND status = 'running'
