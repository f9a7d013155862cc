-- drop: DROP VIEW IF EXISTS ml.packs;
-- Every pack in the graph: its map, leader (null for a pack of equals), members, size, and spread
-- (the largest cell distance between two members; at most 2 x pack_formation.radius).
--   SELECT * FROM ml.packs WHERE map_id = 7 ORDER BY leader_id;
CREATE VIEW ml.packs AS
WITH membership AS (
    -- Each monster in a pack, with the pack's key: its leader, or for a pack of equals (TEAMMATE_OF
    -- only) the lowest id among the monster and its teammates.
    SELECT l.id AS member_id, l.id AS pack_key, l.id AS leader_id
    FROM ml.monsters l
    WHERE EXISTS (SELECT 1 FROM monster_ai."LEADS" e WHERE e.start_id = l.vertex_id)
    UNION ALL
    SELECT f.id, l.id, l.id
    FROM monster_ai."LEADS" e
    JOIN ml.monsters l ON l.vertex_id = e.start_id
    JOIN ml.monsters f ON f.vertex_id = e.end_id
    UNION ALL
    SELECT m.id, least(m.id, min(t.id)), NULL
    FROM monster_ai."TEAMMATE_OF" e
    JOIN ml.monsters m ON m.vertex_id = e.start_id
    JOIN ml.monsters t ON t.vertex_id = e.end_id
    WHERE NOT EXISTS (SELECT 1 FROM monster_ai."LEADS" x
                      WHERE x.start_id = m.vertex_id OR x.end_id = m.vertex_id)
    GROUP BY m.id
)
SELECT min(m.map_id) AS map_id,
       p.leader_id,
       array_agg(m.id ORDER BY m.id) AS member_ids,
       count(*)::integer AS size,
       greatest(max(m.x) - min(m.x), max(m.y) - min(m.y)) AS spread,
       count(DISTINCT m.map_id) > 1 AS spans_maps
FROM membership p
JOIN ml.monsters m ON m.id = p.member_id
GROUP BY p.pack_key, p.leader_id;

GRANT SELECT ON ml.packs TO ml_worker;
