-- Packs the database formed from the monsters' positions (ml.packs), as they stand now.
SELECT 'packs' AS item, count(*) AS n FROM ml.packs
UNION ALL
SELECT 'monsters in packs', coalesce(sum(size), 0) FROM ml.packs
UNION ALL
SELECT 'packs led by a leader', count(*) FILTER (WHERE leader_id IS NOT NULL) FROM ml.packs
