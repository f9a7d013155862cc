-- Recorded transitions for offline training (ml.record_experience), newest first: $1 archetype,
-- $2 model type, $3 at most this many rows. The states come as array_send's binary form (a
-- header, then each float4 after its length), which models/offline/dataset.py reads with numpy
-- instead of building a Python float per element.
SELECT id, array_send(state) AS state, action, reward, array_send(next_state) AS next_state, done
FROM ml.ml_experience_replay
WHERE archetype = $1 AND model_type = $2
ORDER BY created_at DESC, id DESC
LIMIT $3
