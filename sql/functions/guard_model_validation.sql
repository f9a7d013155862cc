-- drop: DROP FUNCTION IF EXISTS ml.guard_model_validation() CASCADE;
-- A model whose validation report (metrics -> 'validation', written by `python -m models.zoo
-- evaluate`) says it is below its bar is not deployed, by ml.deploy_model or by a plain UPDATE, unless
-- the transaction says so: ml.deploy_model(id, force => true) sets ml.force_deploy for its own
-- transaction. The error (ML013) names each criterion that failed. Models without a report (the pack
-- actor and the combat policy, checked at registration) deploy as before. Fires before
-- ml_models_stamp (triggers of one timing fire by name), so a refused deploy retires nothing.
CREATE FUNCTION ml.guard_model_validation() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    failed text;
BEGIN
    IF NEW.is_deployed AND (TG_OP = 'INSERT' OR NOT OLD.is_deployed)
       AND (NEW.metrics -> 'validation' ->> 'passed') = 'false'
       AND coalesce(current_setting('ml.force_deploy', true), '') <> 'on' THEN
        SELECT string_agg(c ->> 'line', '; ') INTO failed
        FROM jsonb_array_elements(NEW.metrics -> 'validation' -> 'criteria') AS c
        WHERE (c ->> 'passed') = 'false';
        RAISE EXCEPTION 'model % (% %, version %) is below its validation bar: %', NEW.id,
            NEW.archetype, NEW.model_type, NEW.version, coalesce(failed, 'see its report')
            USING ERRCODE = 'ML013',
                  HINT = 'SELECT * FROM ml.deploy_model(id, force => true) deploys it anyway';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER ml_models_guard BEFORE INSERT OR UPDATE OF is_deployed
    ON ml.ml_models FOR EACH ROW EXECUTE FUNCTION ml.guard_model_validation();
