-- drop: SELECT ag_catalog.drop_graph('monster_ai', true);
-- The AGE graph of monsters and packs. Every label is created up front: AGE creates a label on first
-- use otherwise, and two sessions doing that at once fail.
SELECT ag_catalog.create_graph('monster_ai');
SELECT ag_catalog.create_vlabel('monster_ai', 'Monster');
SELECT ag_catalog.create_elabel('monster_ai', 'LEADS');
SELECT ag_catalog.create_elabel('monster_ai', 'FOLLOWS');
SELECT ag_catalog.create_elabel('monster_ai', 'TEAMMATE_OF');
SELECT ag_catalog.create_elabel('monster_ai', 'SIGNALS');

-- Every sync rewrites the properties of every Monster vertex that moved: room on each page keeps
-- those updates HOT (no index entry written), which is why no index covers `properties`. An index
-- on the `id` property (what `MATCH (m:Monster) WHERE m.id = $id` could use) made every such update
-- non-HOT and cost a sync of 1,000 moving monsters about 5 ms of its ~20 (bench/RESULTS.md); only
-- operators' Cypher by id would use it, and without it that is a scan of the label (a few ms at
-- 10,000 monsters). Functions reach vertices by their graph id (monster_vertex_id_idx).
ALTER TABLE monster_ai."Monster" SET (fillfactor = 70);

-- AGE indexes no edge endpoints; every traversal needs them.
CREATE INDEX leads_start_idx ON monster_ai."LEADS" (start_id);
CREATE INDEX leads_end_idx ON monster_ai."LEADS" (end_id);
CREATE INDEX follows_start_idx ON monster_ai."FOLLOWS" (start_id);
CREATE INDEX follows_end_idx ON monster_ai."FOLLOWS" (end_id);
CREATE INDEX teammate_of_start_idx ON monster_ai."TEAMMATE_OF" (start_id);
CREATE INDEX teammate_of_end_idx ON monster_ai."TEAMMATE_OF" (end_id);
CREATE INDEX signals_start_idx ON monster_ai."SIGNALS" (start_id);
CREATE INDEX signals_end_idx ON monster_ai."SIGNALS" (end_id);

-- The worker reads the graph; the game server reaches it only through the ml API functions.
GRANT USAGE ON SCHEMA monster_ai TO ml_worker;
GRANT SELECT ON ALL TABLES IN SCHEMA monster_ai TO ml_worker;
