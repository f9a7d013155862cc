-- The game server's sync of one tick (scripts/game_server.py, SYNC): ml.sync_monsters with typed
-- arrays bound, one entry per monster, the 64 floats of every monster back to back in $9.
SELECT ml.sync_monsters($1::integer[], $2::integer[], $3::text[], $4::integer[], $5::integer[],
                        $6::integer[], $7::double precision[], $8::double precision[], $9::real[])
