-- Store one pack episode (models.pack_episode_buffer.episode_row gives the parameters): arrays as
-- .npy bytes, the same format ml.record_pack_episode writes. Returns the row id.
INSERT INTO ml.ml_pack_episodes (
    pack_id, monster_ids, pack_size, episode_length, team_reward, outcome, coordination_score,
    global_states, local_obs, actions, individual_rewards, signals, team_rewards
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id
