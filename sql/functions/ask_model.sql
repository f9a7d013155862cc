-- drop: DROP FUNCTION IF EXISTS ml.ask_model(text, text[], real[], integer[], boolean);
-- Ask any zoo model (docs/model_zoo.md) for a batch of rows, answered now, in this statement, by
-- each row's archetype's deployed model of that type:
--   SELECT * FROM ml.ask_model('threat_assessment', ARRAY['tank', 'mage'], inputs);
-- `inputs` is n x input_dim (the type's columns: plpython/zoo_types.py, docs/model_zoo.md);
-- `monster_ids`, optional, name the rows' monsters: a recurrent model (team_coordination) then
-- continues each one's state from ml.monster_memory and keeps the new one. With `notify` the
-- answers also go out on the ml_decisions channel (kind 'zoo'). One row per input row, in order:
-- answer is the type's integer answer (an action, a move, a block, a tactic) or null where the
-- outputs are the answer; outputs the model's columns; model_version the model that answered.
-- Errors (checked before any inference, nothing written): 22004 a null model type, archetype,
-- monster id or input; ML008 archetypes or monster_ids not one-dimensional, inputs not two-
-- dimensional; ML009 more than limits.request_monsters rows or limits.ask_model_floats inputs;
-- 22P02 an unknown archetype or model type; ML005 arrays of different lengths or inputs of another
-- width; ML004 an input NaN or infinite; ML012 no deployed model of the type for an archetype;
-- ML011 ONNX Runtime missing from the server's Python.
CREATE FUNCTION ml.ask_model(model_type text, archetypes text[], inputs real[],
                             monster_ids integer[] DEFAULT NULL, notify boolean DEFAULT false)
RETURNS TABLE (row_index integer, archetype text, answer integer, outputs real[],
               model_version text, inference_ms real)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
DECLARE
    known constant text[] := '{aggressive,defensive,support,mage,tank,ranged}';
    bad text;
BEGIN
    IF model_type IS NULL OR archetypes IS NULL OR inputs IS NULL THEN
        RAISE EXCEPTION '% must not be null',
            CASE WHEN model_type IS NULL THEN 'model_type'
                 WHEN archetypes IS NULL THEN 'archetypes' ELSE 'inputs' END
            USING ERRCODE = '22004';
    END IF;
    IF cardinality(archetypes) = 0 THEN
        RAISE EXCEPTION 'ask for at least one row' USING ERRCODE = 'ML005';
    END IF;
    IF array_ndims(archetypes) <> 1 THEN
        RAISE EXCEPTION 'archetypes must be a one-dimensional array, got %', array_dims(archetypes)
            USING ERRCODE = 'ML008';
    END IF;
    IF cardinality(archetypes) > ml.config_number('limits.request_monsters') THEN
        RAISE EXCEPTION 'at most % rows per ml.ask_model call, got %',
            ml.config_number('limits.request_monsters'), cardinality(archetypes)
            USING ERRCODE = 'ML009';
    END IF;
    IF cardinality(inputs) > ml.config_number('limits.ask_model_floats') THEN
        RAISE EXCEPTION 'at most % input floats per ml.ask_model call, got %',
            ml.config_number('limits.ask_model_floats'), cardinality(inputs)
            USING ERRCODE = 'ML009';
    END IF;
    IF array_ndims(inputs) <> 2 THEN
        RAISE EXCEPTION 'inputs must be a two-dimensional array (rows x columns), got %',
            coalesce(array_dims(inputs), 'an empty array') USING ERRCODE = 'ML008';
    END IF;
    PERFORM ml.check_monster_ids(monster_ids, 'monster_ids', 'limits.request_monsters');
    IF array_length(inputs, 1) <> cardinality(archetypes)
       OR cardinality(monster_ids) <> cardinality(archetypes) THEN
        RAISE EXCEPTION 'archetypes (%), inputs (% rows) and monster_ids (%) must be as long',
            cardinality(archetypes), array_length(inputs, 1), coalesce(cardinality(monster_ids)::text, 'none')
            USING ERRCODE = 'ML005';
    END IF;
    IF NOT archetypes <@ known THEN
        SELECT a INTO bad FROM unnest(archetypes) AS a WHERE a IS NULL OR a <> ALL (known) LIMIT 1;
        RAISE EXCEPTION 'unknown archetype %', coalesce(quote_literal(ml.abbreviate(bad)), 'null')
            USING ERRCODE = CASE WHEN bad IS NULL THEN '22004' ELSE '22P02' END,
                  HINT = 'archetypes: aggressive, defensive, support, mage, tank, ranged';
    END IF;
    IF NOT ml.all_finite(inputs) THEN
        IF EXISTS (SELECT FROM unnest(inputs) AS v WHERE v IS NULL) THEN
            RAISE EXCEPTION 'inputs must not contain null' USING ERRCODE = '22004';
        END IF;
        RAISE EXCEPTION 'inputs contain NaN or infinity' USING ERRCODE = 'ML004';
    END IF;
    RETURN QUERY SELECT * FROM ml.zoo_infer(model_type, archetypes, array_send(inputs),
                                            monster_ids, notify);
END;
$$;
GRANT EXECUTE ON FUNCTION ml.ask_model(text, text[], real[], integer[], boolean) TO ml_user;
ALTER FUNCTION ml.ask_model(text, text[], real[], integer[], boolean) OWNER TO ml_definer;
