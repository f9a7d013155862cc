-- Where a benchmark run of the legacy gateway starts: its requests are the ones after this id
-- (in the schema on the search_path: the product's `ml`, or the floor's `gateway_floor`).
SELECT coalesce(max(request_id), 0) FROM ai_requests
