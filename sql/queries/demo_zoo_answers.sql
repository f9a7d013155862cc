-- The demo's zoo step: what the pack actor, the zoo's combat DQN and its movement policy answer for
-- the same monsters ($1 ids, $2 archetypes, $3 their states), each in the database, side by side.
SELECT p.monster_id, p.action AS pack_action, c.answer AS combat_dqn_action,
       m.answer AS movement_move, round(m.outputs[m.answer + 1]::numeric, 2) AS move_probability
FROM ml.decide_pack($1::integer[], $2::text[], $3::real[]) WITH ORDINALITY
    AS p(monster_id, action, confidence, coordinated, coordination_bonus, reason, model_version,
         inference_ms, ord)
JOIN ml.ask_model('combat_dqn', $2::text[], $3::real[]) AS c ON c.row_index = p.ord::integer
JOIN ml.ask_model('movement_ppo', $2::text[], $3::real[]) AS m ON m.row_index = p.ord::integer
