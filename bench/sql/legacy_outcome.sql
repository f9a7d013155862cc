-- One run of the legacy gateway, from the database's side: its requests (ids after `after`) less
-- those of its first `warmup_s` seconds; how many the gateway marked timed out (it gave up before
-- the answer), and the time from the request's row to its answer's (the `now()` of the INSERT and
-- of the worker's answer transaction), in milliseconds. The tables are the search_path's (the
-- product's `ml`, or the floor's `gateway_floor`).
WITH run AS (
    SELECT q.request_id, q.status, q.created_at FROM ai_requests AS q WHERE q.request_id > %(after)s
), kept AS (
    SELECT r.* FROM run AS r
    WHERE r.created_at >= (SELECT min(created_at) FROM run) + make_interval(secs => %(warmup_s)s)
), answered AS (
    SELECT k.status, extract(epoch FROM a.created_at - k.created_at) * 1e3 AS ms
    FROM kept AS k LEFT JOIN ai_responses AS a USING (request_id)
)
SELECT count(*),
       count(*) FILTER (WHERE status = 'timeout'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms),
       max(ms)
FROM answered
