-- Register an exported actor (models.registry.register_actor): $1 archetype, $2 model_type,
-- $3 model_name, $4 version, $5 network_type, $6 training_status, $7-$9 ONNX bytes (fp32, fp16,
-- int8), $10 sha256 of the fp32 file, $11-$14 state, signal, action and recurrent (hidden) dims,
-- $15 metrics (json text). Deploying it is a separate UPDATE. Returns the row id.
INSERT INTO ml.ml_models (
    archetype, model_type, model_name, version, network_type, training_status,
    onnx_fp32, onnx_fp16, onnx_int8, onnx_sha256,
    state_dim, signal_dim, action_dim, hidden_dim, metrics
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text::jsonb)
RETURNING id
