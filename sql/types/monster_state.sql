-- drop: DROP TYPE IF EXISTS ml.monster_state;
-- One monster of a sync, as ml.sync_monsters' JSON elements describe it: both forms of the call
-- turn their input into an array of these, which ml.upsert_monsters writes.
CREATE TYPE ml.monster_state AS (
    id               integer,
    mob_id           integer,
    archetype        text,
    map_id           integer,
    x                integer,
    y                integer,
    hp_ratio         double precision,
    leadership_score double precision,
    state            real[]
);
