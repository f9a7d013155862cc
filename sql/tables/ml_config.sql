-- drop: DROP TABLE IF EXISTS ml.config;
-- Settings the database acts on, loaded by the migrations from config/ctde_config.yaml
-- (flattened: `pack_formation.radius`, `signals.ttl_seconds.retreat`, ...). Operators read and
-- change them here; a change applies to the next call, no restart.
CREATE TABLE ml.config (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z_]+(\.[a-z_]+)+$'),
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON ml.config TO ml_worker;
