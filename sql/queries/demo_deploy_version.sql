-- Deploy every model the demo serves of version $1 in one UPDATE: the pack actor
-- ('pack_coordination', pack requests) and the combat policy ('combat', the legacy gateway), one
-- per archetype each; the registry trigger retires what served before per archetype and type, and
-- NOTIFYs the workers.
UPDATE ml.ml_models SET is_deployed = true
WHERE version = $1 AND model_type IN ('pack_coordination', 'combat') AND NOT is_deployed
