-- drop: DROP VIEW IF EXISTS ml.signal_activity;
-- Signals sent (broadcasts, and the edges they wrote) and expired edges swept, per minute, over the
-- last hour. A sent count with no matching expiries means the sweep is not running.
--   SELECT * FROM ml.signal_activity ORDER BY minute DESC LIMIT 10;
CREATE VIEW ml.signal_activity AS
WITH sent AS (
    SELECT date_trunc('minute', l.created_at) AS minute,
           count(*)::integer AS signals_sent,
           sum(cardinality(l.to_monster_ids))::integer AS edges_sent
    FROM ml.ml_coordination_logs l
    WHERE l.created_at >= ml.clock_now() - interval '1 hour'
    GROUP BY 1
),
expired AS (
    SELECT date_trunc('minute', w.swept_at) AS minute,
           sum(w.expired)::integer AS edges_expired,
           sum(w.expired) FILTER (WHERE w.source = 'arrival')::integer AS swept_on_arrival
    FROM ml.signal_sweeps w
    WHERE w.swept_at >= ml.clock_now() - interval '1 hour'
    GROUP BY 1
)
SELECT minute,
       coalesce(sent.signals_sent, 0) AS signals_sent,
       coalesce(sent.edges_sent, 0) AS edges_sent,
       coalesce(expired.edges_expired, 0) AS edges_expired,
       coalesce(expired.swept_on_arrival, 0) AS swept_on_arrival
FROM sent FULL JOIN expired USING (minute);

GRANT SELECT ON ml.signal_activity TO ml_worker;
