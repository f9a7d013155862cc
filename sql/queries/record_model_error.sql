-- A worker refused a model ($1 id): the reason stays on its registry row ($2).
UPDATE ml.ml_models SET load_error = $2, updated_at = now() WHERE id = $1
