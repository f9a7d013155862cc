-- drop: DROP FUNCTION IF EXISTS ml.sync_monsters(integer[], integer[], text[], integer[], integer[], integer[], double precision[], double precision[], real[]);
-- ml.sync_monsters with typed arrays, one entry per monster: the same call as the JSON form
-- without JSON to parse, the fast path for large batches (bench/RESULTS.md). states holds the
-- 64 floats of every monster back to back (n * 64, the cheapest to send and slice), or n x 64.
-- Returns the number of monsters synced. Errors as the JSON form, and ML005 when the arrays
-- differ in length, ML004 when states is neither n * 64 nor n x 64.
CREATE FUNCTION ml.sync_monsters(
    ids integer[], mob_ids integer[], archetypes text[], map_ids integer[], xs integer[],
    ys integer[], hp_ratios double precision[], leadership_scores double precision[], states real[]
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
DECLARE
    n integer := coalesce(cardinality(ids), 0);
BEGIN
    IF coalesce(cardinality(mob_ids), 0) <> n OR coalesce(cardinality(archetypes), 0) <> n
       OR coalesce(cardinality(map_ids), 0) <> n OR coalesce(cardinality(xs), 0) <> n
       OR coalesce(cardinality(ys), 0) <> n OR coalesce(cardinality(hp_ratios), 0) <> n
       OR coalesce(cardinality(leadership_scores), 0) <> n THEN
        RAISE EXCEPTION 'every array must have one entry per monster (% ids)', n
            USING ERRCODE = 'ML005';
    END IF;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF array_ndims(states) = 2 AND array_length(states, 1) = n AND array_length(states, 2) = 64 THEN
        states := ARRAY(SELECT unnest(states));
    ELSIF array_ndims(states) IS DISTINCT FROM 1 OR cardinality(states) <> n * 64 THEN
        RAISE EXCEPTION 'states must hold 64 floats per monster (% x 64, or % back to back), got %',
            n, n * 64, coalesce(array_dims(states), 'nothing')
            USING ERRCODE = 'ML004';
    END IF;
    -- PL/pgSQL holds an array argument in expanded form, and slicing an expanded array is
    -- several times slower than slicing a flat one (2-4 ms against ~1 ms per 1,000 monsters):
    -- the materialized CTE stores `states` once as a flat value, which the slices then read.
    -- No ORDER BY: unnest yields its rows in array order, and sorting 1,000 wide rows costs more
    -- than the rest of this function.
    RETURN ml.upsert_monsters(ARRAY(
        WITH f AS MATERIALIZED (SELECT states AS flat)
        SELECT ROW(u.id, u.mob_id, u.archetype, u.map_id, u.x, u.y, u.hp_ratio,
                   u.leadership_score, f.flat[(u.i - 1) * 64 + 1 : u.i * 64])::ml.monster_state
        FROM f
        CROSS JOIN unnest(ids, mob_ids, archetypes, map_ids, xs, ys, hp_ratios, leadership_scores)
             WITH ORDINALITY
             AS u(id, mob_id, archetype, map_id, x, y, hp_ratio, leadership_score, i)));
END;
$$;
GRANT EXECUTE ON FUNCTION ml.sync_monsters(
    integer[], integer[], text[], integer[], integer[], integer[], double precision[],
    double precision[], real[]
) TO ml_user;
