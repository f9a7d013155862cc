-- drop: DROP TABLE IF EXISTS ml.monsters;
-- Live monster state, one row per spawned monster, written by ml.sync_monsters every tick. The fast
-- state lives here (a HOT-updated heap row); the monster's Monster vertex in the monster_ai graph
-- mirrors the fields the seed's Cypher reads, kept in step by the triggers on this table.
CREATE TABLE ml.monsters (
    id                   integer PRIMARY KEY CHECK (id > 0),
    -- Drawn exactly as AGE draws a Monster vertex id, so the vertex can be created with it.
    vertex_id            ag_catalog.graphid NOT NULL UNIQUE DEFAULT ag_catalog._graphid(
                             ag_catalog._label_id('monster_ai', 'Monster')::integer,
                             nextval('monster_ai."Monster_id_seq"')),
    mob_id               integer NOT NULL,
    archetype            text NOT NULL
        CHECK (archetype IN ('aggressive', 'defensive', 'support', 'mage', 'tank', 'ranged')),
    map_id               integer NOT NULL CHECK (map_id >= 0),
    x                    integer NOT NULL CHECK (x BETWEEN 0 AND 32767),
    y                    integer NOT NULL CHECK (y BETWEEN 0 AND 32767),
    hp_ratio             double precision NOT NULL CHECK (hp_ratio BETWEEN 0 AND 1),
    leadership_score     double precision NOT NULL CHECK (leadership_score BETWEEN 0 AND 1),
    -- ml.all_finite: two comparisons per element (checked on every row of every sync; ~0.3 ms per
    -- 1,000 monsters less than `&&` against {NaN,Infinity,-Infinity}), nulls included.
    state                real[] NOT NULL CONSTRAINT monsters_state_64_finite CHECK (
                             array_ndims(state) = 1 AND cardinality(state) = 64
                             AND ml.all_finite(state)),
    synced_at            timestamptz NOT NULL,
    -- When a field that pack formation reads (map, position, hp, leadership) last changed: the
    -- per-second formation job re-forms the maps with monsters changed since their last formation.
    formation_changed_at timestamptz NOT NULL
) WITH (fillfactor = 70);  -- room on the page, so a tick's update stays HOT (no index writes)

-- Only map_id is indexed besides the keys: indexing x or y would make every move a non-HOT update.
CREATE INDEX monsters_map_idx ON ml.monsters (map_id);

GRANT SELECT ON ml.monsters TO ml_worker;
