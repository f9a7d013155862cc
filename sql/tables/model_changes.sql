-- drop: DROP TABLE IF EXISTS ml.model_changes;
-- How many times the served models changed: ml.notify_model_change adds one in the transaction that
-- deploys, retires or replaces a model's files, so the count moves when that commits. An inline
-- decision compares it with the count its backend loaded its sessions at (one row read in the
-- statement it already runs, never ml_models) and reloads only when it moved. A table, not a
-- sequence: a sequence moves before the deploy commits, and a backend that reloaded then would have
-- found the old model and kept it.
CREATE TABLE ml.model_changes (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    changes  bigint NOT NULL DEFAULT 0
);
INSERT INTO ml.model_changes DEFAULT VALUES;

-- Read by inline decisions (as ml_definer); moved by whoever deploys (the trigger runs as them).
GRANT SELECT, UPDATE ON ml.model_changes TO ml_definer, ml_worker;
