-- drop: DROP FUNCTION IF EXISTS ml.notify_model_change() CASCADE;
-- Deploying is one UPDATE of a registry row (is_deployed = true). This trigger stamps deployed_at,
-- retires the previously deployed model of the same archetype and type (one deployed at a time), and
-- NOTIFYs ml_models so every worker hot-reloads between two batches.
CREATE FUNCTION ml.notify_model_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_WHEN = 'BEFORE' THEN
        NEW.updated_at := now();
        IF NEW.is_deployed AND (TG_OP = 'INSERT' OR NOT OLD.is_deployed) THEN
            NEW.deployed_at := now();
            NEW.training_status := 'deployed';
            NEW.load_error := NULL;
            UPDATE ml.ml_models SET is_deployed = false
            WHERE archetype = NEW.archetype AND model_type = NEW.model_type
              AND is_deployed AND id <> NEW.id;
        END IF;
        RETURN NEW;
    END IF;
    PERFORM pg_notify('ml_models', json_build_object(
        'id', NEW.id, 'archetype', NEW.archetype, 'model_type', NEW.model_type,
        'version', NEW.version, 'is_deployed', NEW.is_deployed)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER ml_models_stamp BEFORE INSERT OR UPDATE OF is_deployed, onnx_fp32, onnx_fp16, onnx_int8
    ON ml.ml_models FOR EACH ROW EXECUTE FUNCTION ml.notify_model_change();
CREATE TRIGGER ml_models_notify AFTER INSERT OR UPDATE OF is_deployed, onnx_fp32, onnx_fp16, onnx_int8
    ON ml.ml_models FOR EACH ROW EXECUTE FUNCTION ml.notify_model_change();
