-- drop: DROP FUNCTION IF EXISTS ml.deploy_model(bigint, boolean);
-- Deploy a registered model (the operator's, ml_admin): the one deployed before it for the same
-- archetype and type is retired, workers and inline serving switch at the commit. A model below its
-- validation bar is refused (ML013, naming each criterion that failed) unless `force`; a forced
-- deploy is recorded in its metrics ('deployed_forced': the criteria it failed). P0002 for an
-- unknown id. Returns the deployed row's identity and the criteria it failed (empty when none).
CREATE FUNCTION ml.deploy_model(model_id bigint, force boolean DEFAULT false)
RETURNS TABLE (id bigint, archetype text, model_type text, version text, failed text[])
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    chosen ml.ml_models%ROWTYPE;
    missed text[];
BEGIN
    IF model_id IS NULL OR force IS NULL THEN
        RAISE EXCEPTION 'model_id and force must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT * INTO chosen FROM ml.ml_models AS m WHERE m.id = model_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no model with id %', model_id USING ERRCODE = 'P0002';
    END IF;
    SELECT coalesce(array_agg(c ->> 'line'), '{}') INTO missed
    FROM jsonb_array_elements(coalesce(chosen.metrics -> 'validation' -> 'criteria', '[]')) AS c
    WHERE (c ->> 'passed') = 'false';
    PERFORM set_config('ml.force_deploy', CASE WHEN force THEN 'on' ELSE '' END, true);
    UPDATE ml.ml_models AS m
    SET is_deployed = true,
        metrics = CASE WHEN force AND cardinality(missed) > 0
                       THEN m.metrics || jsonb_build_object('deployed_forced', to_jsonb(missed))
                       ELSE m.metrics - 'deployed_forced' END
    WHERE m.id = model_id;
    PERFORM set_config('ml.force_deploy', '', true);
    RETURN QUERY SELECT chosen.id, chosen.archetype::text, chosen.model_type::text,
                        chosen.version::text, missed;
END;
$$;
