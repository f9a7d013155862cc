-- Deploy a registered model ($1 id, $2 force): ml.deploy_model refuses one below its validation
-- bar (ML013) unless forced, and returns the criteria it failed.
SELECT id, archetype, model_type, version, failed FROM ml.deploy_model($1, $2)
