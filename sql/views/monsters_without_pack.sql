-- drop: DROP VIEW IF EXISTS ml.monsters_without_pack;
-- Monsters in no pack, with how many living monsters are within pack_formation.radius of them on
-- their map: 0 explains itself; more than 0 means formation has not run since they met (it runs
-- every second for maps that moved) or every pack in reach is full or led by a weaker monster.
--   SELECT * FROM ml.monsters_without_pack WHERE monsters_in_reach > 0;
CREATE VIEW ml.monsters_without_pack AS
SELECT m.id, m.mob_id, m.archetype, m.map_id, m.x, m.y, m.hp_ratio, m.leadership_score,
       m.hp_ratio > 0 AS alive,
       (SELECT count(*)::integer FROM ml.monsters o
        WHERE o.map_id = m.map_id AND o.id <> m.id AND o.hp_ratio > 0
          AND greatest(abs(o.x - m.x), abs(o.y - m.y)) <= reach.cells) AS monsters_in_reach
FROM ml.monsters m
CROSS JOIN (SELECT ml.config_number('pack_formation.radius') AS cells) AS reach
WHERE NOT EXISTS (SELECT 1 FROM monster_ai."LEADS" e
                  WHERE e.start_id = m.vertex_id OR e.end_id = m.vertex_id)
  AND NOT EXISTS (SELECT 1 FROM monster_ai."TEAMMATE_OF" e WHERE e.start_id = m.vertex_id);

GRANT SELECT ON ml.monsters_without_pack TO ml_worker;
