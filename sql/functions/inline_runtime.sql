-- drop: DROP FUNCTION IF EXISTS ml.inline_runtime();
-- What inline decisions run on in this server, for an operator: the server's Python, its numpy and
-- its ONNX Runtime versions, and `problem`, why inline decisions cannot run here (null when they
-- can). Never raises: a server without ONNX Runtime says so in `problem` (docs/inline_serving.md
-- says how to install it); serving.mode 'auto' then sends everything to the workers.
CREATE FUNCTION ml.inline_runtime()
RETURNS TABLE (python text, numpy text, onnxruntime text, problem text)
LANGUAGE plpython3u
SET search_path = ml, pg_catalog, pg_temp
AS $$
import sys

try:
    import numpy
    numpy_version = numpy.__version__
except ImportError as exc:
    return [(sys.version.split()[0], None, None, f"numpy is not installed: {exc}")]
try:
    import onnxruntime
except ImportError as exc:
    return [(sys.version.split()[0], numpy_version, None,
             f"ONNX Runtime is not installed in the server's Python: {exc}")]
return [(sys.version.split()[0], numpy_version, onnxruntime.__version__, None)]
$$;
GRANT EXECUTE ON FUNCTION ml.inline_runtime() TO ml_worker;
