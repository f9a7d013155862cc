-- Pack episodes for training, newest first: $1 pack ids (NULL: any), $2 minimum team_reward
-- (NULL: any), $3 at most this many.
SELECT id, pack_id, monster_ids, pack_size, episode_length, team_reward, outcome,
       coordination_score, global_states, local_obs, actions, individual_rewards, signals,
       team_rewards
FROM ml.ml_pack_episodes
WHERE ($1::bigint[] IS NULL OR pack_id = ANY ($1::bigint[]))
  AND ($2::real IS NULL OR team_reward >= $2::real)
ORDER BY created_at DESC, id DESC
LIMIT $3
