-- A game server's recording of single-monster transitions (docs/offline.md), typed arrays bound:
-- $1 monster ids, $2 archetype, $3 model type, $4 states (B x 64), $5 actions, $6 rewards,
-- $7 next states (B x 64), $8 dones.
SELECT ml.record_experience($1::integer[], $2, $3, $4::real[], $5::smallint[], $6::real[],
                            $7::real[], $8::boolean[])
