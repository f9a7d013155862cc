-- The deployed pack-coordination actors, one per archetype, with their ONNX bytes and dims.
SELECT id, archetype, model_type, version, onnx_sha256, onnx_fp32, onnx_fp16, onnx_int8,
       state_dim, signal_dim, action_dim, hidden_dim
FROM ml.ml_models
WHERE is_deployed AND model_type = 'pack_coordination'
