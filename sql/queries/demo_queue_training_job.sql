-- Queue a training job as an ML engineer does: one INSERT ($1 archetype, $2 algorithm, $3 config
-- as JSON text); the worker's training runner claims it.
INSERT INTO ml_training_jobs (archetype, algorithm, config)
VALUES ($1, $2, $3::jsonb)
RETURNING id
