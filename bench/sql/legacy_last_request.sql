-- Where a benchmark run of the legacy gateway starts: its requests are the ones after this id.
SELECT coalesce(max(request_id), 0) FROM ml.ai_requests
