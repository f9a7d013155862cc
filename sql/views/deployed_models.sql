-- drop: DROP VIEW IF EXISTS ml.deployed_models;
-- What serves each archetype now, and any error a worker met loading it.
CREATE VIEW ml.deployed_models AS
SELECT id, archetype, model_type, model_name, version, network_type, deployed_at,
       state_dim, signal_dim, action_dim, hidden_dim,
       octet_length(onnx_fp32) AS fp32_bytes, octet_length(onnx_fp16) AS fp16_bytes,
       octet_length(onnx_int8) AS int8_bytes, metrics, load_error
FROM ml.ml_models
WHERE is_deployed;
GRANT SELECT ON ml.deployed_models TO ml_worker;
