-- drop: DROP FUNCTION IF EXISTS ml.record_pack_episode(bigint, integer[], text, real[], real[], integer[], real[], real[], real[], real);
-- The game server records a finished pack fight: arrays in, one ml_pack_episodes row out (its id).
-- T steps, N monsters (2-5): global_states and local_obs real[T][N][64], actions integer[T][N]
-- (pack actions 0-6), team_rewards real[T], individual_rewards real[T][N], signals real[T][N][32]
-- or NULL; outcome victory | defeat | retreat | timeout. The arrays are stored as .npy bytes, exactly
-- as models.pack_episode_buffer writes and loads them (plpython/pack_episode.py does both, in
-- ml.store_pack_episode).
-- Checked here first, before any array reaches Python (a 10,000-step episode made a ~32 MB row):
-- ML008 an array with the wrong number of dimensions; ML009 more than limits.episode_steps (2000)
-- steps, or an array larger than an episode of that many steps of a pack of 5 can be; 22023 a
-- reward that is not finite or beyond +-limits.episode_reward (1e6) a step (3e38 was stored).
-- Then the module's: 22023 wrong shape, pack size, outcome, action, coordination_score outside
-- [0, 1] or a non-finite number; 22004 a NULL; 23505 pack_id already recorded.
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
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    -- The layout's largest pack (plpython/pack_episode.py, MAX_PACK_SIZE).
    max_pack constant integer := 5;
    steps double precision := ml.config_number('limits.episode_steps');
    reward double precision := ml.config_number('limits.episode_reward');
    bad record;
BEGIN
    IF pack_id IS NULL THEN
        RAISE EXCEPTION 'pack_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT a.name, a.want, a.dims INTO bad
    FROM (VALUES (1, 'monster_ids', 1, array_ndims(monster_ids), array_dims(monster_ids)),
                 (2, 'global_states', 3, array_ndims(global_states), array_dims(global_states)),
                 (3, 'local_obs', 3, array_ndims(local_obs), array_dims(local_obs)),
                 (4, 'actions', 2, array_ndims(actions), array_dims(actions)),
                 (5, 'team_rewards', 1, array_ndims(team_rewards), array_dims(team_rewards)),
                 (6, 'individual_rewards', 2, array_ndims(individual_rewards),
                  array_dims(individual_rewards)),
                 (7, 'signals', 3, array_ndims(signals), array_dims(signals)))
         AS a(ord, name, want, got, dims)
    WHERE a.got <> a.want  -- a null or empty array is the module's to name
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pack episode %: % must be a %-dimensional array, got %',
            pack_id, bad.name, bad.want, bad.dims
            USING ERRCODE = 'ML008';
    END IF;
    SELECT a.name, a.got, a.most INTO bad
    FROM (VALUES (1, 'global_states', cardinality(global_states), steps * max_pack * 64),
                 (2, 'local_obs', cardinality(local_obs), steps * max_pack * 64),
                 (3, 'actions', cardinality(actions), steps * max_pack),
                 (4, 'team_rewards', cardinality(team_rewards), steps),
                 (5, 'individual_rewards', cardinality(individual_rewards), steps * max_pack),
                 (6, 'signals', cardinality(signals), steps * max_pack * 32))
         AS a(ord, name, got, most)
    WHERE a.got > a.most
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pack episode %: % holds % values, more than an episode of at most % steps '
                        'can (%)',
            pack_id, bad.name, bad.got, steps, bad.most
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.episode_steps';
    END IF;
    IF (reward >= ALL (team_rewards) AND -reward <= ALL (team_rewards)
        AND reward >= ALL (individual_rewards) AND -reward <= ALL (individual_rewards))
       IS NOT FALSE THEN  -- true, or null: a NULL element, which the module names
        -- No outcome is 60 characters long: a longer one goes abbreviated, so that the module's
        -- message (22023, outcome must be one of ...) does not quote it whole.
        RETURN ml.store_pack_episode(pack_id, monster_ids,
                                     CASE WHEN length(outcome) > 60 THEN ml.abbreviate(outcome)
                                          ELSE outcome END,
                                     global_states, local_obs, actions, team_rewards,
                                     individual_rewards, signals, coordination_score);
    END IF;
    SELECT a.name, u.i - 1 AS idx, u.v INTO bad
    FROM (VALUES (1, 'team_rewards', team_rewards),
                 (2, 'individual_rewards', individual_rewards)) AS a(ord, name, rewards)
    CROSS JOIN LATERAL unnest(a.rewards) WITH ORDINALITY AS u(v, i)
    WHERE NOT u.v BETWEEN -reward AND reward  -- NaN sorts above every number: caught here
    ORDER BY a.ord, u.i
    LIMIT 1;
    RAISE EXCEPTION 'pack episode %: % must be finite and within [-%, %] a step, element % '
                    '(C order) is %',
        pack_id, bad.name, reward, reward, bad.idx, bad.v
        USING ERRCODE = '22023', HINT = 'ml.config limits.episode_reward';
END;
$$;

GRANT EXECUTE ON FUNCTION ml.record_pack_episode(bigint, integer[], text, real[], real[], integer[], real[], real[], real[], real) TO ml_user;
