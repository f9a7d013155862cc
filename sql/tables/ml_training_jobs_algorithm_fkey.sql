-- drop: ALTER TABLE ml.ml_training_jobs DROP CONSTRAINT IF EXISTS ml_training_jobs_algorithm_fkey;
-- A job names a registered algorithm, whichever way it is queued (ml.submit_training or a direct
-- INSERT): anything else is refused at once (23503) instead of failing later in the runner.
-- NOT VALID: rows queued before this revision are not re-checked (before it, the runner trained
-- MAPPO whatever the column said), so an old database upgrades to exactly a fresh one's catalog.
ALTER TABLE ml.ml_training_jobs
    ADD CONSTRAINT ml_training_jobs_algorithm_fkey
    FOREIGN KEY (algorithm) REFERENCES ml.training_algorithms (name) NOT VALID;
