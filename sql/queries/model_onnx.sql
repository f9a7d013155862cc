-- One registered model's ONNX file: $1 model id, $2 precision ('fp32' | 'fp16' | 'int8').
SELECT CASE $2::text
           WHEN 'fp32' THEN onnx_fp32
           WHEN 'fp16' THEN onnx_fp16
           WHEN 'int8' THEN onnx_int8
       END AS onnx
FROM ml.ml_models
WHERE id = $1
