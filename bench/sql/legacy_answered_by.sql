-- Of one legacy gateway run's answers (request ids after `after`, in the search_path's tables),
-- the share that a model gave (model_version set; a combat model's DEFER counts, it is the
-- model's answer): a run whose answers came from nowhere (no model deployed, ONNX Runtime
-- missing: 255 with the reason) would time only the refusal. The floor's answers name no model.
SELECT avg((a.model_version IS NOT NULL)::integer)::double precision
FROM ai_responses AS a
WHERE a.request_id > %(after)s
