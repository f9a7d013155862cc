-- drop: DROP INDEX IF EXISTS monster_ai.monster_vertex_id_idx;
-- AGE indexes no vertex id on a label's own table (only on the empty parent). The monster mirror
-- and every join from an edge to its Monster vertex look vertices up by id.
CREATE UNIQUE INDEX monster_vertex_id_idx ON monster_ai."Monster" (id);
