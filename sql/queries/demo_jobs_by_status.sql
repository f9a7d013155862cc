-- Jobs of both queues by kind and status (ml.queue_depth).
SELECT queue || '/' || kind || '/' || status AS item, sum(jobs) AS n
FROM ml.queue_depth
GROUP BY 1
ORDER BY 1
