-- What the deployed actors the worker serves are (model types 'pack_coordination' and 'combat'),
-- without their ONNX bytes: the worker compares this with what it last loaded and fetches bytes
-- only for a model that changed, so a NOTIFY ml_models (which any role can send) costs a worker
-- this query, never megabytes of models. The files' sizes (octet_length reads only a stored
-- value's TOAST header) stand beside the sha256 for bytes replaced in place. Not updated_at: a
-- worker's own record_model_error moves it.
SELECT id, archetype, model_type, version, onnx_sha256, octet_length(onnx_fp32) AS fp32_bytes,
       octet_length(onnx_fp16) AS fp16_bytes, octet_length(onnx_int8) AS int8_bytes
FROM ml.ml_models
WHERE is_deployed AND model_type IN ('pack_coordination', 'combat')
ORDER BY archetype, model_type
