-- The floor of an inline decision (bench/decisions.py): one statement taking a packed request's
-- parameters ($1 monster ids, $2 archetypes, $3 n x 64 float32 bytes) and returning one row per
-- monster shaped like ml.decide_pack's, decided by nothing. What the round trip of such a
-- statement costs on this machine (client, protocol, executor); ml.decide_pack_packed's time above
-- it is the product's own.
SELECT u.id AS monster_id, 0::smallint AS action, 1.0::real AS confidence,
       false AS coordinated, 0.0::real AS coordination_bonus, NULL::text AS reason,
       'floor'::text AS model_version, octet_length($3::bytea)::real AS inference_ms
FROM unnest($1::integer[], $2::text[]) AS u(id, archetype)
