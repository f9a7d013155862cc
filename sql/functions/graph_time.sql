-- drop: DROP FUNCTION IF EXISTS ml.graph_time(timestamptz);
-- A time as the graph stores it: an agtype string, ISO-8601 in UTC with microseconds
-- ("2026-11-22T10:15:00.250000Z"). Fixed width, so comparing the strings compares the times, and
-- the seed's Cypher shows a readable value.
CREATE FUNCTION ml.graph_time(at timestamptz) RETURNS ag_catalog.agtype
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN pg_catalog.to_jsonb(
    pg_catalog.to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
)::text::ag_catalog.agtype;
