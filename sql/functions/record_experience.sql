-- drop: DROP FUNCTION IF EXISTS ml.record_experience(integer[], text, text, real[], smallint[], real[], real[], boolean[]);
-- The game server records single-monster transitions (s, a, r, s', done) for offline training
-- (CQL, docs/offline.md): B rows into ml_experience_replay in one call, returns B. One archetype
-- and one model type a call; an action is that model type's output: combat 0-9 (the game server's
-- ten actions) or 10 (DEFER: the traditional AI decided), pack_coordination 0-6 (the pack
-- actions). states and next_states are B x 64 (the state contract, docs/state_contract.md); a
-- transition that ended the monster's fight (done) is never bootstrapped from its next state:
-- send the last state there.
-- Checked in this order, all before anything is written (a refused call writes nothing):
--   ML009  an array over limits.experience_rows (4096) rows (states, next_states: 64 x that many
--          values), read from the arrays' headers before anything else
--   ML008  monster_ids, actions, rewards or dones not one-dimensional; states or next_states not
--          two-dimensional
--   ML005  an empty batch, or arrays that do not all have B = cardinality(monster_ids) rows
--   ML004  states or next_states rows that are not 64 wide
--   22004  archetype or model_type NULL;  22P02  an unknown archetype or model type
--   22004  a NULL monster id, action, reward or done
--   ML004  a NULL, NaN or infinity in states or next_states (the row named)
--   ML003  a monster id below 1
--   22023  an action outside the model type's range; a reward NaN, infinite or beyond
--          +-limits.experience_reward (1000)
-- SECURITY DEFINER (owned by ml_definer): the game server's role may call it and has no
-- privilege on the table itself.
CREATE FUNCTION ml.record_experience(
    monster_ids integer[],
    archetype text,
    model_type text,
    states real[],
    actions smallint[],
    rewards real[],
    next_states real[],
    dones boolean[]
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    rows_cap double precision := ml.config_number('limits.experience_rows');
    reward_cap double precision := ml.config_number('limits.experience_reward');
    known_archetypes constant pg_catalog.text[] := '{aggressive,defensive,support,mage,tank,ranged}';
    -- Each model type's output width (config/model_types.py ACTION_DIMS; tests/test_experience.py
    -- checks that they agree).
    n_actions constant integer := CASE model_type WHEN 'pack_coordination' THEN 7
                                                  WHEN 'combat' THEN 11 END;
    n integer := coalesce(cardinality(monster_ids), 0);
    written integer;
    bad record;
BEGIN
    SELECT a.name, a.got, a.most INTO bad
    FROM (VALUES (1, 'monster_ids', cardinality(monster_ids), rows_cap),
                 (2, 'states', cardinality(states), rows_cap * 64),
                 (3, 'actions', cardinality(actions), rows_cap),
                 (4, 'rewards', cardinality(rewards), rows_cap),
                 (5, 'next_states', cardinality(next_states), rows_cap * 64),
                 (6, 'dones', cardinality(dones), rows_cap))
         AS a(ord, name, got, most)
    WHERE a.got > a.most
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'experience: % holds % values, more than a call of at most % rows can (%)',
            bad.name, bad.got, rows_cap, bad.most
            USING ERRCODE = 'ML009', HINT = 'ml.config limits.experience_rows';
    END IF;
    SELECT a.name, a.want, a.dims INTO bad
    FROM (VALUES (1, 'monster_ids', 1, array_ndims(monster_ids), array_dims(monster_ids)),
                 (2, 'states', 2, array_ndims(states), array_dims(states)),
                 (3, 'actions', 1, array_ndims(actions), array_dims(actions)),
                 (4, 'rewards', 1, array_ndims(rewards), array_dims(rewards)),
                 (5, 'next_states', 2, array_ndims(next_states), array_dims(next_states)),
                 (6, 'dones', 1, array_ndims(dones), array_dims(dones)))
         AS a(ord, name, want, got, dims)
    WHERE a.got <> a.want  -- a null or empty array is refused below, by its length
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'experience: % must be a %-dimensional array, got %',
            bad.name, bad.want, bad.dims
            USING ERRCODE = 'ML008';
    END IF;
    IF n = 0 THEN
        RAISE EXCEPTION 'experience: monster_ids is empty: nothing to record' USING ERRCODE = 'ML005';
    END IF;
    SELECT a.name, a.got INTO bad
    FROM (VALUES (1, 'states', coalesce(array_length(states, 1), 0)),
                 (2, 'actions', coalesce(cardinality(actions), 0)),
                 (3, 'rewards', coalesce(cardinality(rewards), 0)),
                 (4, 'next_states', coalesce(array_length(next_states, 1), 0)),
                 (5, 'dones', coalesce(cardinality(dones), 0)))
         AS a(ord, name, got)
    WHERE a.got <> n
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'experience: % has % rows, monster_ids % (one row per transition)',
            bad.name, bad.got, n
            USING ERRCODE = 'ML005';
    END IF;
    IF array_length(states, 2) <> 64 OR array_length(next_states, 2) <> 64 THEN
        RAISE EXCEPTION 'experience: states and next_states must be % x 64, got % and %',
            n, array_dims(states), array_dims(next_states)
            USING ERRCODE = 'ML004';
    END IF;
    IF archetype IS NULL OR model_type IS NULL THEN
        RAISE EXCEPTION 'experience: % must not be NULL',
            CASE WHEN archetype IS NULL THEN 'archetype' ELSE 'model_type' END
            USING ERRCODE = '22004';
    END IF;
    IF archetype <> ALL (known_archetypes) THEN
        RAISE EXCEPTION 'experience: unknown archetype %', quote_literal(ml.abbreviate(archetype))
            USING ERRCODE = '22P02',
                  HINT = 'archetypes: aggressive, defensive, support, mage, tank, ranged';
    END IF;
    IF n_actions IS NULL THEN
        RAISE EXCEPTION 'experience: unknown model type %', quote_literal(ml.abbreviate(model_type))
            USING ERRCODE = '22P02', HINT = 'model types: combat, pack_coordination';
    END IF;
    SELECT a.name, a.at INTO bad
    FROM (VALUES (1, 'monster_ids', array_position(monster_ids, NULL)),
                 (2, 'actions', array_position(actions, NULL)),
                 (3, 'rewards', array_position(rewards, NULL)),
                 (4, 'dones', array_position(dones, NULL)))
         AS a(ord, name, at)
    WHERE a.at IS NOT NULL
    ORDER BY a.ord
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'experience: %[%] is NULL', bad.name, bad.at USING ERRCODE = '22004';
    END IF;
    IF NOT (ml.all_finite(states) AND ml.all_finite(next_states)) THEN
        SELECT a.name, (u.i - 1) / 64 + 1 AS row_number, u.v INTO bad
        FROM (VALUES (1, 'states', states), (2, 'next_states', next_states)) AS a(ord, name, v)
        CROSS JOIN LATERAL unnest(a.v) WITH ORDINALITY AS u(v, i)
        WHERE NOT coalesce(u.v > '-Infinity'::real AND u.v < 'Infinity'::real, false)
        ORDER BY a.ord, u.i
        LIMIT 1;
        RAISE EXCEPTION 'experience: %[%] must be 64 finite numbers, holds %',
            bad.name, bad.row_number, coalesce(bad.v::pg_catalog.text, 'NULL')
            USING ERRCODE = 'ML004';
    END IF;
    IF 1 > ANY (monster_ids) THEN
        SELECT u.i, u.id INTO bad FROM unnest(monster_ids) WITH ORDINALITY AS u(id, i)
        WHERE u.id < 1
        ORDER BY u.i
        LIMIT 1;
        RAISE EXCEPTION 'experience: monster_ids[%] is %: monster ids are at least 1',
            bad.i, bad.id
            USING ERRCODE = 'ML003';
    END IF;
    IF NOT (0 <= ALL (actions) AND n_actions > ALL (actions)) THEN
        SELECT u.i, u.a INTO bad FROM unnest(actions) WITH ORDINALITY AS u(a, i)
        WHERE u.a NOT BETWEEN 0 AND n_actions - 1
        ORDER BY u.i
        LIMIT 1;
        RAISE EXCEPTION 'experience: actions[%] is %: a % action is 0-%',
            bad.i, bad.a, model_type, n_actions - 1
            USING ERRCODE = '22023';
    END IF;
    IF NOT (reward_cap >= ALL (rewards) AND -reward_cap <= ALL (rewards)) THEN
        SELECT u.i, u.r INTO bad FROM unnest(rewards) WITH ORDINALITY AS u(r, i)
        WHERE NOT u.r BETWEEN -reward_cap AND reward_cap  -- NaN sorts above every number
        ORDER BY u.i
        LIMIT 1;
        RAISE EXCEPTION 'experience: rewards[%] is %: a reward must be finite and within [-%, %]',
            bad.i, bad.r, reward_cap, reward_cap
            USING ERRCODE = '22023', HINT = 'ml.config limits.experience_reward';
    END IF;
    -- One flat copy of each state array, which the row slices then read (a slice of a flat
    -- array is a copy of its 64 floats; see ml.sync_monsters' typed form).
    INSERT INTO ml.ml_experience_replay
        (monster_id, archetype, model_type, state, action, reward, next_state, done)
    WITH f AS MATERIALIZED (
        SELECT ARRAY(SELECT unnest(states)) AS s, ARRAY(SELECT unnest(next_states)) AS ns
    )
    SELECT u.monster_id, record_experience.archetype, record_experience.model_type,
           f.s[(u.i - 1) * 64 + 1 : u.i * 64], u.action, u.reward,
           f.ns[(u.i - 1) * 64 + 1 : u.i * 64], u.done
    FROM f
    CROSS JOIN unnest(monster_ids, actions, rewards, dones) WITH ORDINALITY
         AS u(monster_id, action, reward, done, i);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END;
$$;
ALTER FUNCTION ml.record_experience(integer[], text, text, real[], smallint[], real[], real[], boolean[]) OWNER TO ml_definer;
GRANT EXECUTE ON FUNCTION ml.record_experience(integer[], text, text, real[], smallint[], real[], real[], boolean[]) TO ml_user;
