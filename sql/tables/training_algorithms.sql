-- drop: DROP TABLE IF EXISTS ml.training_algorithms;
-- The training algorithms a job may name in ml_training_jobs.algorithm: exactly the keys of
-- models.algorithms.registry.ALGORITHMS (tests/test_algorithms.py compares the two), with what
-- kind of algorithm each is (docs/algorithms.md). A later revision that adds an algorithm
-- re-applies this file with one more row.
CREATE TABLE ml.training_algorithms (
    name                varchar(32) PRIMARY KEY,
    title               text NOT NULL,
    on_policy           boolean NOT NULL,
    centralized_critic  boolean NOT NULL,
    recurrent           boolean NOT NULL,
    value_based         boolean NOT NULL
);
INSERT INTO ml.training_algorithms
    (name, title, on_policy, centralized_critic, recurrent, value_based)
VALUES
    ('mappo', 'MAPPO: PPO with a centralized critic', true, true, true, false),
    ('ippo', 'IPPO: PPO with decentralized critics', true, false, true, false),
    ('qmix', 'QMIX: recurrent agent Q-network, monotonic state-conditioned mixer, double Q', false, true, true, true),
    ('vdn', 'VDN: recurrent agent Q-network, Q_tot = sum of agent Qs, double Q', false, true, true, true),
    ('maddpg', 'MADDPG: shared deterministic actor, centralized Q critic, replay (Lowe et al. 2017)', false, true, false, false);

GRANT SELECT ON ml.training_algorithms TO ml_worker;
-- ml.submit_training (SECURITY DEFINER, owned by ml_definer) reads the list; nothing writes it but
-- migrations.
GRANT SELECT ON ml.training_algorithms TO ml_definer;
