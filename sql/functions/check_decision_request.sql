-- drop: DROP FUNCTION IF EXISTS ml.check_decision_request(integer[], text[]);
-- What the typed and packed decision requests check before ml.submit_decision_job sees the arrays:
-- monster_ids one-dimensional (ML008), at most limits.request_monsters (ML009), no null id
-- (22004); archetypes one-dimensional (ML008) and each one of the six (22P02, the value
-- abbreviated). The states and priority are ml.submit_decision_job's to check.
CREATE FUNCTION ml.check_decision_request(monster_ids integer[], archetypes text[]) RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := '{aggressive,defensive,support,mage,tank,ranged}';
    bad text;
BEGIN
    PERFORM ml.check_monster_ids(monster_ids, 'monster_ids', 'limits.request_monsters');
    IF array_ndims(archetypes) > 1 THEN
        RAISE EXCEPTION 'archetypes must be a one-dimensional array, got %', array_dims(archetypes)
            USING ERRCODE = 'ML008';
    END IF;
    IF cardinality(archetypes) = cardinality(monster_ids) AND NOT archetypes <@ known THEN
        SELECT a INTO bad FROM unnest(archetypes) AS a WHERE a IS NULL OR a <> ALL (known) LIMIT 1;
        RAISE EXCEPTION 'unknown archetype %', coalesce(quote_literal(ml.abbreviate(bad)), 'null')
            USING ERRCODE = '22P02',
                  HINT = 'archetypes: aggressive, defensive, support, mage, tank, ranged';
    END IF;
END;
$$;
