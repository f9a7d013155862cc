-- Deploy every pack-coordination model of version $1 (one per archetype) in one UPDATE; the
-- registry trigger retires what served before and NOTIFYs the workers.
UPDATE ml.ml_models SET is_deployed = true
WHERE version = $1 AND model_type = 'pack_coordination' AND NOT is_deployed
