-- drop: DROP FUNCTION IF EXISTS ml.monster_vertex_properties(integer, integer, text, integer, integer, integer, double precision, double precision);
-- The properties of a Monster vertex: what the seed's Cypher reads (`m.id`, `m.position_x`, ...),
-- with agtype integers for integers and floats for floats.
CREATE FUNCTION ml.monster_vertex_properties(
    id integer, mob_id integer, archetype text, map_id integer, x integer, y integer,
    hp_ratio double precision, leadership_score double precision
) RETURNS ag_catalog.agtype
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN ag_catalog.agtype_build_map(
    'id', id, 'mob_id', mob_id, 'archetype', archetype, 'map_id', map_id,
    'position_x', x, 'position_y', y, 'current_hp_ratio', hp_ratio,
    'leadership_score', leadership_score);
