-- drop: DROP VIEW IF EXISTS ml.live_signals;
-- Every signal not yet expired, one row per receiver, with the seconds it has left.
--   SELECT * FROM ml.live_signals WHERE to_monster_id = 1002;
CREATE VIEW ml.live_signals AS
SELECT (e.properties OPERATOR(ag_catalog.->) 'signal_type'::text)::text AS signal_type,
       s.id AS from_monster_id,
       r.id AS to_monster_id,
       (e.properties OPERATOR(ag_catalog.->) 'priority'::text)::integer AS priority,
       ag_catalog.agtype_out(e.properties OPERATOR(ag_catalog.->) 'content'::text)::text::jsonb
           AS content,
       (e.properties OPERATOR(ag_catalog.->) 'sent_at'::text)::text::timestamptz AS sent_at,
       (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text)::text::timestamptz AS expires_at,
       round(extract(epoch FROM
           (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text)::text::timestamptz
           - ml.clock_now())::numeric, 3) AS seconds_left
FROM monster_ai."SIGNALS" e
JOIN ml.monsters s ON s.vertex_id = e.start_id
JOIN ml.monsters r ON r.vertex_id = e.end_id
WHERE ag_catalog.agtype_access_operator(
          VARIADIC ARRAY[e.properties, '"expires_at"'::ag_catalog.agtype])
      OPERATOR(ag_catalog.>) (SELECT ml.graph_time(ml.clock_now()));

GRANT SELECT ON ml.live_signals TO ml_worker;
