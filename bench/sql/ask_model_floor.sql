-- The floor of ml.ask_model (bench/zoo.py serving): the same call shape from the game server's role
-- (the model type, the archetypes, the n x width inputs, sent and checked finite) answered with
-- one row per input row, decided by nothing.
SELECT u.ord::integer AS row_index, u.archetype, 0 AS answer, ARRAY[0]::real[] AS outputs
FROM unnest($2::text[]) WITH ORDINALITY AS u(archetype, ord)
WHERE $1::text IS NOT NULL AND ml.all_finite($3::real[])
