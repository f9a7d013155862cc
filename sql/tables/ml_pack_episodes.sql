-- drop: DROP TABLE IF EXISTS ml.ml_pack_episodes;
-- Finished pack fights, the seed's columns. Arrays are numpy .npy bytes (dtype and shape included).
CREATE TABLE ml.ml_pack_episodes (
    id                 bigserial PRIMARY KEY,
    pack_id            bigint NOT NULL UNIQUE,
    monster_ids        integer[] NOT NULL,
    pack_size          integer NOT NULL CHECK (pack_size BETWEEN 2 AND 5),
    episode_length     integer NOT NULL,
    team_reward        real NOT NULL,
    outcome            varchar(20) NOT NULL,
    coordination_score real,
    global_states      bytea NOT NULL,
    local_obs          bytea NOT NULL,
    actions            bytea NOT NULL,
    individual_rewards bytea NOT NULL,
    signals            bytea,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ml_pack_episodes_created_idx ON ml.ml_pack_episodes (created_at);

GRANT SELECT, INSERT ON ml.ml_pack_episodes TO ml_worker;
GRANT USAGE ON SEQUENCE ml.ml_pack_episodes_id_seq TO ml_worker;
