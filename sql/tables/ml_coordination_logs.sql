-- drop: DROP TABLE IF EXISTS ml.ml_coordination_logs;
-- Every signal sent, the seed's columns.
CREATE TABLE ml.ml_coordination_logs (
    id              bigserial PRIMARY KEY,
    pack_id         bigint,
    signal_type     varchar(50) NOT NULL,
    from_monster_id integer NOT NULL,
    to_monster_ids  integer[] NOT NULL,
    signal_content  jsonb,
    success         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ml_coordination_logs_created_idx ON ml.ml_coordination_logs (created_at);

GRANT SELECT ON ml.ml_coordination_logs TO ml_worker;
