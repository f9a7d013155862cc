-- drop: DROP FUNCTION IF EXISTS ml.form_or_defer_packs(integer[]);
-- What the ml.monsters triggers call to re-form maps: at once, or, inside ml.upsert_monsters,
-- collected until the sync's last statement, where they are formed together (one ml.form_packs:
-- every map's lock in ascending order). A sync's update and insert each re-formed their maps as
-- they ran, so one with a death on map 2 and a spawn on map 1 locked 2, then 1, against pg_cron's
-- formation of both taking 1, then 2: a deadlock (tests/test_packs.py replays it).
CREATE FUNCTION ml.form_or_defer_packs(map_ids integer[]) RETURNS void
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('ml.defer_formation', true) = 'on' THEN
        PERFORM set_config('ml.deferred_maps',
                           (coalesce(nullif(current_setting('ml.deferred_maps', true), ''), '{}')
                            ::integer[] || map_ids)::text,
                           true);
    ELSE
        PERFORM ml.form_packs(map_ids);
    END IF;
END;
$$;
