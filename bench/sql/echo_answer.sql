-- Answer claimed echo jobs ($1 ids, $2 results) and NOTIFY each answer, in one statement.
WITH answered AS (
    UPDATE public.bench_echo AS b SET status = 'done', result = a.result
    FROM unnest($1::bigint[], $2::jsonb[]) AS a(id, result)
    WHERE b.id = a.id
    RETURNING b.id, b.result
)
SELECT count(pg_notify('bench_echo_done', json_build_object('job_id', id, 'actions', result)::text))
FROM answered
