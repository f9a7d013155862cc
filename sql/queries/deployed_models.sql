-- The deployed actors the worker serves (model types 'pack_coordination' and 'combat') among ids
-- $1, with their ONNX bytes and dims: fetched only for the models whose version row
-- (deployed_model_versions) changed.
SELECT id, archetype, model_type, version, onnx_sha256, onnx_fp32, onnx_fp16, onnx_int8,
       state_dim, signal_dim, action_dim, hidden_dim
FROM ml.ml_models
WHERE is_deployed AND model_type IN ('pack_coordination', 'combat') AND id = ANY ($1::bigint[])
