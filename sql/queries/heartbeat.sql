-- Worker $1 is alive: stamp it and every job it holds ($2 jobs done so far, $3 its status).
-- SKIP LOCKED: a job row locked right now is being answered by this very worker's other
-- connection; waiting for it could deadlock with that answer (measured under load), and a job
-- being answered needs no heartbeat.
WITH me AS (
    UPDATE ml.workers SET heartbeat_at = now(), jobs_done = $2, status = $3,
           waiting = waiting AND $3::varchar = 'running'
    WHERE worker_id = $1
    RETURNING worker_id
)
UPDATE ml.inference_jobs SET heartbeat_at = clock_timestamp()
WHERE id IN (
    SELECT id FROM ml.inference_jobs
    WHERE worker_id = (SELECT worker_id FROM me) AND status = 'running'
    FOR UPDATE SKIP LOCKED
)
