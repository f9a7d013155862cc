-- The registry row of a zoo model already registered from the same FP32 file ($1 archetype,
-- $2 model_type, $3 sha256 of the FP32 file), newest first: `python -m models.zoo deploy` registers
-- a file once and deploys that row again.
SELECT id, version FROM ml.ml_models
WHERE archetype = $1 AND model_type = $2 AND onnx_sha256 = $3
ORDER BY id DESC
LIMIT 1
