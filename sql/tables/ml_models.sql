-- drop: DROP TABLE IF EXISTS ml.ml_models;
-- The model registry: the seed's columns (archetype, model_type, model_name, onnx_fp16_path, version,
-- training_status, is_deployed, metrics) plus what serving needs. The ONNX files themselves are stored
-- here, so every worker on every machine loads the same bytes; the *_path columns stay for a reader
-- of the seed who registers a file by path.
CREATE TABLE ml.ml_models (
    id               bigserial PRIMARY KEY,
    archetype        varchar(32) NOT NULL
        CHECK (archetype IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged')),
    model_type       varchar(64) NOT NULL,
    model_name       varchar(128) NOT NULL,
    version          varchar(32) NOT NULL,
    network_type     varchar(32) NOT NULL DEFAULT 'ctde',
    training_status  varchar(20) NOT NULL DEFAULT 'registered'
        CHECK (training_status IN ('registered', 'training', 'trained', 'validated', 'deployed',
                                   'failed', 'retired')),
    onnx_fp32_path   text,
    onnx_fp16_path   text,
    onnx_int8_path   text,
    onnx_fp32        bytea,
    onnx_fp16        bytea,
    onnx_int8        bytea,
    onnx_sha256      text,
    state_dim        integer CHECK (state_dim > 0),
    signal_dim       integer CHECK (signal_dim >= 0),
    action_dim       integer CHECK (action_dim > 0),
    hidden_dim       integer CHECK (hidden_dim >= 0),
    metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_deployed      boolean NOT NULL DEFAULT false,
    deployed_at      timestamptz,
    load_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (archetype, model_type, version)
);
-- At most one deployed model per (archetype, model_type): deploying is one UPDATE of that row.
CREATE UNIQUE INDEX ml_models_one_deployed ON ml.ml_models (archetype, model_type) WHERE is_deployed;

-- The worker serves from the registry and its training runner registers what it trained; deploying
-- stays an operator's UPDATE (ml_admin). The game server sees none of it.
GRANT SELECT, INSERT, UPDATE ON ml.ml_models TO ml_worker;
GRANT USAGE ON SEQUENCE ml.ml_models_id_seq TO ml_worker;
