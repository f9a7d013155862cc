-- drop: DROP TABLE IF EXISTS ml.pack_maps;
-- When each map last had its packs formed, and what came out. Written only by ml.form_packs (under
-- the map's advisory lock); a map whose monsters changed since formed_at is due for formation.
CREATE TABLE ml.pack_maps (
    map_id      integer PRIMARY KEY,
    formed_at   timestamptz NOT NULL,
    packs       integer NOT NULL,
    in_packs    integer NOT NULL,
    edges_added integer NOT NULL,
    edges_removed integer NOT NULL
);

GRANT SELECT ON ml.pack_maps TO ml_worker;
