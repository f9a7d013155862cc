-- drop: DELETE FROM ml.training_algorithms WHERE name IN ('rllib_ppo', 'rllib_appo', 'rllib_impala', 'rllib_dqn', 'rllib_sac', 'cql');
-- The algorithms that train on Ray (RLlib's, one shared policy for every monster; docs/ray.md) and
-- offline discrete CQL from recorded play (docs/offline.md): rows of ml.training_algorithms, the
-- keys that models.algorithms.registry.ALGORITHMS adds for them.
INSERT INTO ml.training_algorithms
    (name, title, on_policy, centralized_critic, recurrent, value_based)
VALUES
    ('rllib_ppo', 'RLlib PPO on Ray: one shared policy, clipped surrogate, GAE', true, false, false, false),
    ('rllib_appo', 'RLlib APPO on Ray: asynchronous PPO with V-trace', true, false, false, false),
    ('rllib_impala', 'RLlib IMPALA on Ray: asynchronous actor-learner with V-trace', true, false, false, false),
    ('rllib_dqn', 'RLlib DQN on Ray: double Q, dueling heads, prioritized replay', false, false, false, true),
    ('rllib_sac', 'RLlib SAC on Ray (discrete): twin Q, automatic temperature', false, false, false, false),
    ('cql', 'Discrete CQL: conservative double DQN trained offline from recorded play', false, false, false, true);
