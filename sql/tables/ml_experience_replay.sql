-- drop: DROP TABLE IF EXISTS ml.ml_experience_replay;
-- Single-monster transitions (the seed's "existing" replay table, a data source for pre-training).
CREATE TABLE ml.ml_experience_replay (
    id          bigserial PRIMARY KEY,
    monster_id  integer NOT NULL,
    archetype   varchar(32) NOT NULL,
    model_type  varchar(64),
    state       real[] NOT NULL,
    action      smallint NOT NULL,
    reward      real NOT NULL,
    next_state  real[],
    done        boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ml_experience_replay_archetype_idx ON ml.ml_experience_replay (archetype, created_at);

GRANT SELECT, INSERT ON ml.ml_experience_replay TO ml_worker;
GRANT USAGE ON SEQUENCE ml.ml_experience_replay_id_seq TO ml_worker;
