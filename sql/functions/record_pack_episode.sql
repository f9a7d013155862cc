-- drop: DROP FUNCTION IF EXISTS ml.record_pack_episode(bigint, integer[], text, real[], real[], integer[], real[], real[], real[], real);
-- The game server records a finished pack fight: arrays in, one ml_pack_episodes row out (its id).
-- T steps, N monsters (2-5): global_states and local_obs real[T][N][64], actions integer[T][N]
-- (pack actions 0-6), team_rewards real[T], individual_rewards real[T][N], signals real[T][N][32]
-- or NULL; outcome victory | defeat | retreat | timeout. The arrays are stored as .npy bytes, exactly
-- as models.pack_episode_buffer writes and loads them (plpython/pack_episode.py does both).
-- Errors: 22023 wrong shape, pack size, outcome, action, coordination_score outside [0, 1] or a
-- non-finite number; 22004 a NULL; 23505 pack_id already recorded.
CREATE FUNCTION ml.record_pack_episode(
    pack_id bigint,
    monster_ids integer[],
    outcome text,
    global_states real[],
    local_obs real[],
    actions integer[],
    team_rewards real[],
    individual_rewards real[],
    signals real[] DEFAULT NULL,
    coordination_score real DEFAULT NULL
) RETURNS bigint
LANGUAGE plpython3u
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
plpy.execute("SELECT ml.plpython_bootstrap()")
import ml_pack_episode as episodes

if pack_id is None:
    plpy.error("pack_id must not be NULL", sqlstate=episodes.NULL_NOT_ALLOWED)
try:
    row = episodes.encode_episode(monster_ids, outcome, global_states, local_obs, actions,
                                  team_rewards, individual_rewards, signals, coordination_score)
except episodes.EpisodeError as exc:
    plpy.error(f"pack episode {pack_id}: {exc}", sqlstate=exc.sqlstate)

if "insert_plan" not in SD:
    SD["insert_plan"] = plpy.prepare(
        "INSERT INTO ml.ml_pack_episodes (pack_id, monster_ids, pack_size, episode_length,"
        " team_reward, outcome, coordination_score, global_states, local_obs, actions,"
        " individual_rewards, signals, team_rewards)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        ["bigint", "integer[]", "integer", "integer", "real", "pg_catalog.text", "real",
         "pg_catalog.bytea", "pg_catalog.bytea", "pg_catalog.bytea", "pg_catalog.bytea", "pg_catalog.bytea", "pg_catalog.bytea"])
inserted = plpy.execute(SD["insert_plan"], [
    pack_id, row["monster_ids"], row["pack_size"], row["episode_length"], row["team_reward"],
    row["outcome"], row["coordination_score"], row["global_states"], row["local_obs"], row["actions"],
    row["individual_rewards"], row["signals"], row["team_rewards"]])
return inserted[0]["id"]
$$;

GRANT EXECUTE ON FUNCTION ml.record_pack_episode(bigint, integer[], text, real[], real[], integer[], real[], real[], real[], real) TO ml_user;
