-- The registry without the ONNX bytes (their sizes instead): $1 archetype, $2 model_type (NULL: any).
SELECT id, archetype, model_type, model_name, version, network_type, training_status,
       is_deployed, deployed_at, created_at, state_dim, signal_dim, action_dim, hidden_dim,
       onnx_sha256, octet_length(onnx_fp32) AS fp32_bytes, octet_length(onnx_fp16) AS fp16_bytes,
       octet_length(onnx_int8) AS int8_bytes, metrics::text AS metrics, load_error
FROM ml.ml_models
WHERE ($1::text IS NULL OR archetype = $1::text)
  AND ($2::text IS NULL OR model_type = $2::text)
ORDER BY archetype, model_type, created_at DESC, id DESC
