-- Whether no submit that may have read ml.workers.waiting before this worker set it is still in
-- flight (each holds the fence shared until its commit): true only when the fence could be taken
-- exclusively. A try, never a wait: submits are never made to queue behind an idle worker.
SELECT pg_try_advisory_xact_lock(ml.submit_fence_key()) AS clear
