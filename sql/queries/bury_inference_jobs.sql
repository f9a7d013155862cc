-- The last resort for jobs $2 that worker $1 holds and could neither answer nor give back (the
-- rescue query itself failed on them): dead with the error $3, nothing else written, so that the
-- worker's heartbeat does not keep them 'running' forever. Returns how many it buried.
WITH buried AS (
    UPDATE ml.inference_jobs
    SET status = 'dead', error = $3::text, worker_id = NULL, finished_at = clock_timestamp()
    WHERE worker_id = $1 AND id = ANY ($2::bigint[]) AND status = 'running'
    RETURNING id
)
SELECT count(*) AS buried FROM buried
