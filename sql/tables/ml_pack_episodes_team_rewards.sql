-- drop: ALTER TABLE IF EXISTS ml.ml_pack_episodes DROP COLUMN IF EXISTS team_rewards;
-- The per-step team rewards of an episode (.npy <f4, shape (T,)), which the seed's PackEpisode
-- carries but its table leaves out (it keeps only the total, team_reward). Nullable so that the
-- seed's own INSERT still runs; the episode buffer skips a row without it (it cannot be trained on).
ALTER TABLE ml.ml_pack_episodes ADD COLUMN team_rewards bytea;
