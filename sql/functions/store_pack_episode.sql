-- drop: DROP FUNCTION IF EXISTS ml.store_pack_episode(bigint, integer[], text, real[], real[], integer[], real[], real[], real[], real);
-- The body of ml.record_pack_episode once its limits are checked: plpython/pack_episode.py validates
-- the episode and encodes every array as .npy bytes, and the row is inserted. Errors as
-- ml.record_pack_episode's (the module's SQLSTATEs).
CREATE FUNCTION ml.store_pack_episode(
    pack_id bigint,
    monster_ids integer[],
    outcome text,
    global_states real[],
    local_obs real[],
    actions integer[],
    team_rewards real[],
    individual_rewards real[],
    signals real[],
    coordination_score real
) RETURNS bigint
LANGUAGE plpython3u
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
