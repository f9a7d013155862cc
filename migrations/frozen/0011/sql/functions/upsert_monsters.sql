-- drop: DROP FUNCTION IF EXISTS ml.upsert_monsters(ml.monster_state[]);
-- The one write path of monster state (both forms of ml.sync_monsters end here): checks every
-- monster, then updates the known ones and spawns the new ones. The ml.monsters
-- triggers mirror the Monster vertices and re-form packs on spawn, death and map change.
-- All or nothing; the first bad monster (in order) raises.
CREATE FUNCTION ml.upsert_monsters(monsters ml.monster_state[]) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    n integer := coalesce(cardinality(monsters), 0);
    problem record;
    failed_check text;
    updated integer;
    deferred integer[];
    at timestamptz := ml.clock_now();
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;

    SELECT m.i - 1 AS idx, m.problem[1] AS code, m.problem[2] AS message INTO problem
    FROM (
        SELECT u.i, CASE
            WHEN u.id IS NULL THEN ARRAY['ML005', 'id is missing']
            WHEN u.id < 1 THEN ARRAY['ML003', format('id must be positive, got %s', u.id)]
            WHEN u.mob_id IS NULL THEN ARRAY['ML005', 'mob_id is missing']
            WHEN u.archetype IS NULL THEN ARRAY['ML005', 'archetype is missing']
            WHEN u.archetype NOT IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged')
                THEN ARRAY['22P02', format('unknown archetype %L (known: aggressive, defensive, '
                                           'support, mage, tank, ranged)',
                                           ml.abbreviate(u.archetype))]
            WHEN u.map_id IS NULL THEN ARRAY['ML005', 'map_id is missing']
            WHEN u.map_id < 0 THEN ARRAY['ML003', format('map_id must be >= 0, got %s', u.map_id)]
            WHEN u.x IS NULL OR u.y IS NULL THEN ARRAY['ML005', 'x and y are required']
            WHEN u.x NOT BETWEEN 0 AND 32767 OR u.y NOT BETWEEN 0 AND 32767
                THEN ARRAY['ML003',
                           format('x and y must be cells in 0..32767, got %s, %s', u.x, u.y)]
            WHEN u.hp_ratio IS NULL THEN ARRAY['ML005', 'hp_ratio is missing']
            WHEN NOT u.hp_ratio BETWEEN 0 AND 1  -- NaN sorts above every number: caught here
                THEN ARRAY['ML003', format('hp_ratio must be in [0, 1], got %s', u.hp_ratio)]
            WHEN u.leadership_score IS NULL THEN ARRAY['ML005', 'leadership_score is missing']
            WHEN NOT u.leadership_score BETWEEN 0 AND 1
                THEN ARRAY['ML003', format('leadership_score must be in [0, 1], got %s',
                                           u.leadership_score)]
            WHEN array_ndims(u.state) IS DISTINCT FROM 1 OR cardinality(u.state) <> 64
                THEN ARRAY['ML004', format('state must be 64 finite floats, got %s',
                                           coalesce(array_dims(u.state), 'nothing'))]
        END AS problem
        FROM unnest(monsters) WITH ORDINALITY
             AS u(id, mob_id, archetype, map_id, x, y, hp_ratio, leadership_score, state, i)
    ) AS m
    WHERE m.problem IS NOT NULL
    ORDER BY m.i
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'monsters[%]: %', problem.idx, problem.message USING ERRCODE = problem.code;
    END IF;

    SELECT d.id INTO problem FROM unnest(monsters) AS d GROUP BY d.id HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'monster % appears twice in one sync', problem.id USING ERRCODE = '23505';
    END IF;

    -- The maps the update and the insert re-form (spawns, deaths, revivals, map changes) are
    -- formed together after both (ml.form_or_defer_packs says why).
    PERFORM set_config('ml.defer_formation', 'on', true);
    PERFORM set_config('ml.deferred_maps', '{}', true);
    BEGIN
        -- Known monsters first; spawns only when some id was not found (most ticks spawn nobody,
        -- and then the insert, its anti-join and its spawn trigger are skipped).
        UPDATE ml.monsters t
        SET mob_id = i.mob_id, archetype = i.archetype, map_id = i.map_id, x = i.x, y = i.y,
            hp_ratio = i.hp_ratio, leadership_score = i.leadership_score, state = i.state,
            synced_at = at,
            formation_changed_at = CASE
                WHEN (t.map_id, t.x, t.y, t.hp_ratio > 0, t.leadership_score)
                     IS DISTINCT FROM (i.map_id, i.x, i.y, i.hp_ratio > 0, i.leadership_score)
                THEN at ELSE t.formation_changed_at END
        -- In id order, as every sync: two syncs of the same monsters lock their rows in one
        -- order, never each holding one the other waits for.
        FROM (SELECT * FROM unnest(monsters) AS u ORDER BY u.id) AS i
        WHERE t.id = i.id;
        GET DIAGNOSTICS updated = ROW_COUNT;
        IF updated < n THEN
            INSERT INTO ml.monsters (id, mob_id, archetype, map_id, x, y, hp_ratio,
                                     leadership_score, state, synced_at, formation_changed_at)
            SELECT i.id, i.mob_id, i.archetype, i.map_id, i.x, i.y, i.hp_ratio,
                   i.leadership_score, i.state, at, at
            FROM (SELECT * FROM unnest(monsters) AS u ORDER BY u.id) AS i
            WHERE NOT EXISTS (SELECT 1 FROM ml.monsters t WHERE t.id = i.id)
            -- Spawned by a concurrent sync since the update: that one wins this tick.
            ON CONFLICT (id) DO NOTHING;
        END IF;
    EXCEPTION WHEN check_violation THEN
        GET STACKED DIAGNOSTICS failed_check = CONSTRAINT_NAME;
        IF failed_check IS DISTINCT FROM 'monsters_state_64_finite' THEN
            RAISE;
        END IF;
        -- The table's CHECK found a NaN, an infinity or a null in a state: name the first.
        SELECT u.i - 1 AS idx INTO problem
        FROM unnest(monsters) WITH ORDINALITY
             AS u(id, mob_id, archetype, map_id, x, y, hp_ratio, leadership_score, state, i)
        WHERE NOT ml.all_finite(u.state)
        ORDER BY u.i LIMIT 1;
        RAISE EXCEPTION 'monsters[%]: state must be 64 finite floats (found NaN, infinity or null)',
            problem.idx
            USING ERRCODE = 'ML004';
    END;
    PERFORM set_config('ml.defer_formation', 'off', true);
    deferred := current_setting('ml.deferred_maps')::integer[];
    IF cardinality(deferred) > 0 THEN
        PERFORM ml.form_packs(deferred);  -- sorts and de-duplicates the maps itself
    END IF;
    RETURN n;
END;
$$;
