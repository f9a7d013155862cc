-- A registered zoo model's validation report and export figures, measured again ($1 id, $2 metrics
-- as json text, $3 training_status): the report a deploy is judged by is the latest one.
UPDATE ml.ml_models SET metrics = $2::text::jsonb, training_status = $3 WHERE id = $1
