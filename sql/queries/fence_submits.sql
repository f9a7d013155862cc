-- Wait until every submit that may have read ml.workers.waiting before this worker set it has
-- committed (each holds the fence shared until its commit); the claim that follows sees their jobs.
SELECT pg_advisory_xact_lock(hashtext('ml.inference_jobs fence'))
