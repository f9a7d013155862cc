-- drop: DROP FUNCTION IF EXISTS ml.gpu_worker_running();
-- Whether a worker with a GPU (ONNX Runtime's CUDA provider) is running and heard from within 5 s
-- (ml.worker_status's `silent`): in serving mode 'auto' the legacy gateway goes to it then.
CREATE FUNCTION ml.gpu_worker_running() RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
    -- 5 s: ml.worker_status's `silent`.
    SELECT EXISTS (SELECT 1 FROM ml.workers
                   WHERE status = 'running' AND 'CUDAExecutionProvider' = ANY (providers)
                     AND heartbeat_at > now() - interval '5 seconds');
$$;
GRANT EXECUTE ON FUNCTION ml.gpu_worker_running() TO ml_definer;
