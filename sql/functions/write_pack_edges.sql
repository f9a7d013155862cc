-- drop: DROP FUNCTION IF EXISTS ml.write_pack_edges(text[], text[], text[], text[], text[], double precision[]);
-- Applies a formation's difference to the graph (vertex and edge ids as text, as PL/Python holds
-- them): removes edges by id, found through the start_id index of every label, and adds LEADS
-- {strength}, FOLLOWS and TEAMMATE_OF edges. Returns the number of edges added.
CREATE FUNCTION ml.write_pack_edges(
    remove_ids text[], remove_starts text[],
    add_labels text[], add_starts text[], add_ends text[], add_strengths double precision[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    added integer;
BEGIN
    IF cardinality(remove_ids) > 0 THEN
        DELETE FROM monster_ai._ag_label_edge e
        WHERE e.start_id = ANY (remove_starts::ag_catalog.graphid[])
          AND e.id = ANY (remove_ids::ag_catalog.graphid[]);
    END IF;
    IF coalesce(cardinality(add_labels), 0) = 0 THEN
        RETURN 0;
    END IF;
    WITH edge AS (
        SELECT a.label, a.start_id::ag_catalog.graphid AS start_id,
               a.end_id::ag_catalog.graphid AS end_id, a.strength
        FROM unnest(add_labels, add_starts, add_ends, add_strengths)
             AS a(label, start_id, end_id, strength)
    ),
    leads AS (
        INSERT INTO monster_ai."LEADS" (start_id, end_id, properties)
        SELECT e.start_id, e.end_id, ag_catalog.agtype_build_map('strength', e.strength)
        FROM edge e WHERE e.label = 'LEADS'
        RETURNING 1
    ),
    follows AS (
        INSERT INTO monster_ai."FOLLOWS" (start_id, end_id)
        SELECT e.start_id, e.end_id FROM edge e WHERE e.label = 'FOLLOWS'
        RETURNING 1
    ),
    teammates AS (
        INSERT INTO monster_ai."TEAMMATE_OF" (start_id, end_id)
        SELECT e.start_id, e.end_id FROM edge e WHERE e.label = 'TEAMMATE_OF'
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM leads) + (SELECT count(*) FROM follows)
           + (SELECT count(*) FROM teammates)
    INTO added;
    RETURN added;
END;
$$;
