-- Where the legacy gateway's requests were decided (docs/inline_serving.md): ml.config's
-- serving.mode, and how many requests the worker answered from the queue (a gateway job) against
-- those answered inside their INSERT (an answer and no job).
SELECT 'serving.mode ' || ml.serving_mode() AS item, NULL::bigint AS n
UNION ALL
SELECT 'answered inside the INSERT',
       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ml.inference_jobs j
                                          WHERE j.gateway_request_id = r.request_id))
FROM ml.ai_responses AS r
UNION ALL
SELECT 'answered by the worker', count(*) FROM ml.inference_jobs WHERE kind = 'gateway'
