-- drop: ALTER TABLE ml.inference_jobs DROP CONSTRAINT inference_jobs_states_once, DROP COLUMN states_f32, ALTER COLUMN states SET NOT NULL;
-- A decision job's states may come packed (ml.request_pack_actions_packed): n x 64 float32,
-- little-endian, row-major, as the game server holds them. They are stored as they came and the
-- worker reads them with one numpy call: no array to receive, check element by element and send
-- again (for a batch of 256, about 1 ms of CPU between client, database and worker). A job holds
-- its states in exactly one of the two columns.
ALTER TABLE ml.inference_jobs
    ADD COLUMN states_f32 bytea,
    ALTER COLUMN states DROP NOT NULL,
    ADD CONSTRAINT inference_jobs_states_once CHECK ((states IS NULL) <> (states_f32 IS NULL));
-- As `states`: floats do not compress, and no query filters on them.
ALTER TABLE ml.inference_jobs
    ALTER COLUMN states_f32 SET STORAGE EXTERNAL,
    ALTER COLUMN states_f32 SET STATISTICS 0;
