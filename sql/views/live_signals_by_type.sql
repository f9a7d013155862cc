-- drop: DROP VIEW IF EXISTS ml.live_signals_by_type;
-- Live signals per type: how many edges, senders and receivers, and the time left (seconds) of the
-- one expiring soonest and of the one expiring last.
--   SELECT * FROM ml.live_signals_by_type;
CREATE VIEW ml.live_signals_by_type AS
SELECT signal_type,
       count(*)::integer AS live,
       count(DISTINCT from_monster_id)::integer AS senders,
       count(DISTINCT to_monster_id)::integer AS receivers,
       min(seconds_left) AS min_seconds_left,
       max(seconds_left) AS max_seconds_left
FROM ml.live_signals
GROUP BY signal_type;

GRANT SELECT ON ml.live_signals_by_type TO ml_worker;
