-- drop: GRANT INSERT ON ml.ai_requests TO ml_user;
-- The gateway inserts the columns of its INSERT and no others: request_id comes from the sequence
-- (a request id of the caller's choosing broke the next legitimate INSERT with 23505) and
-- created_at from the clock (a back-dated request looked late, or old enough to purge).
REVOKE INSERT ON ml.ai_requests FROM ml_user;
GRANT INSERT (monster_id, mob_id, archetype, state_vector, map_id, position_x, position_y,
              hp_ratio, sp_ratio, status, priority) ON ml.ai_requests TO ml_user;
