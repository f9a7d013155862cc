-- The demo's zoo step: up to $1 living monsters of the archetype with the most of them on the maps,
-- with the 64 floats their last sync sent (what the zoo's models are asked about).
WITH busiest AS (
    SELECT archetype FROM ml.monsters GROUP BY archetype ORDER BY count(*) DESC, archetype LIMIT 1
)
SELECT m.id, m.archetype, m.state
FROM ml.monsters AS m JOIN busiest USING (archetype)
ORDER BY m.id
LIMIT $1
