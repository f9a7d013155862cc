-- drop: DROP TABLE IF EXISTS ml.monster_memory;
-- The recurrent (GRU) state each monster's last decision left, per model (ml_models.id): the one
-- memory that the worker and inline decisions read and write, so that a monster's memory does not
-- depend on which worker or backend answers it. hidden: the model's hidden_dim float32 values,
-- little-endian. Unlogged: it holds the last seconds of a fight, is written every tick, and WAL for
-- it would double that cost; after a crash it is empty and monsters start again from zeros, as a
-- monster never seen does. Writers go through ml.write_monster_memory (never waits on a client's
-- open transaction); pg_cron purges rows older than serving.memory_ttl_seconds.
CREATE UNLOGGED TABLE ml.monster_memory (
    model_id   bigint NOT NULL,
    monster_id integer NOT NULL,
    hidden     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, monster_id)
) WITH (fillfactor = 70);  -- room on the page for each tick's new version (HOT updates)

GRANT SELECT, INSERT, UPDATE, DELETE ON ml.monster_memory TO ml_definer;
GRANT SELECT, INSERT, UPDATE ON ml.monster_memory TO ml_worker;
