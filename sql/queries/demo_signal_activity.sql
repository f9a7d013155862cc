-- Signals sent and signal edges expired over the last hour (ml.signal_activity).
SELECT 'signals sent' AS item, coalesce(sum(signals_sent), 0) AS n FROM ml.signal_activity
UNION ALL
SELECT 'signal edges written', coalesce(sum(edges_sent), 0) FROM ml.signal_activity
UNION ALL
SELECT 'signal edges expired', coalesce(sum(edges_expired), 0) FROM ml.signal_activity
