-- drop: DROP FUNCTION IF EXISTS ml.form_packs(integer[]);
-- Forms the packs of the given maps (plpython/pack_formation.py) and writes the difference to the
-- graph: LEADS {strength} leader -> follower, FOLLOWS back, TEAMMATE_OF between followers. Returns
-- the number of packs on those maps. Runs on spawn, death, revival, map change and despawn (the
-- ml.monsters triggers), every second for maps whose monsters moved (ml.form_dirty_packs, pg_cron),
-- and on demand. Every map's advisory lock first (ascending, ml.lock_pack_maps), then map by map.
-- Edges of a map's monsters to monsters elsewhere (one changed map) are removed with the rest.
-- Nulls and repeats are skipped; only maps that exist (with monsters, or a formation recorded in
-- ml.pack_maps) are locked and formed: a million map ids took a lock each and ran the server's
-- lock table out of shared memory. Errors: ML008 map_ids not one-dimensional; ML009 more than
-- limits.form_packs_maps (4096) distinct maps.
CREATE FUNCTION ml.form_packs(map_ids integer[]) RETURNS integer
LANGUAGE plpython3u
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
import sys
import time

# The repo module, loaded once per session and checked against ml.plpython_modules every 10 s
# (a migration that changes it reaches long-lived sessions without a reconnect).
if "ml_pack_formation" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
pf = sys.modules["ml_pack_formation"]

if "plans" not in SD:
    SD["plans"] = {
        "config": plpy.prepare(
            "SELECT ml.config_number('pack_formation.radius')::integer AS radius, "
            "ml.config_number('pack_formation.min_size')::integer AS min_size, "
            "ml.config_number('pack_formation.max_size')::integer AS max_size"),
        "cap": plpy.prepare("SELECT ml.config_number('limits.form_packs_maps') AS cap"),
        # The maps with something to form or to record, in ascending order (index probes).
        "existing": plpy.prepare(
            "SELECT coalesce(array_agg(u.m ORDER BY u.m), '{}') AS maps "
            "FROM unnest($1::integer[]) AS u(m) "
            "WHERE EXISTS (SELECT 1 FROM ml.monsters x WHERE x.map_id = u.m) "
            "OR EXISTS (SELECT 1 FROM ml.pack_maps p WHERE p.map_id = u.m)", ["integer[]"]),
        "lock": plpy.prepare("SELECT ml.lock_pack_maps($1)", ["integer[]"]),
        "monsters": plpy.prepare(
            "SELECT m.id, m.vertex_id::text AS vertex, m.x, m.y, m.leadership_score, "
            "m.hp_ratio > 0 AS alive FROM ml.monsters m WHERE m.map_id = $1", ["integer"]),
        # Every pack edge with an end on one of the map's vertices (both indexes, BitmapOr).
        "edges": plpy.prepare(
            "SELECT e.tableoid::regclass::text AS label, e.id::text AS id, "
            "e.start_id::text AS start_id, e.end_id::text AS end_id, "
            "CASE WHEN e.tableoid = 'monster_ai.\"LEADS\"'::regclass THEN "
            "ag_catalog.agtype_access_operator(VARIADIC ARRAY[e.properties, "
            "'\"strength\"'::ag_catalog.agtype])::double precision END AS strength "
            "FROM monster_ai._ag_label_edge e "
            "WHERE e.tableoid <> 'monster_ai.\"SIGNALS\"'::regclass "
            "AND (e.start_id = ANY ($1::ag_catalog.graphid[]) "
            "OR e.end_id = ANY ($1::ag_catalog.graphid[]))", ["pg_catalog.text[]"]),
        "write": plpy.prepare(
            "SELECT ml.write_pack_edges($1, $2, $3, $4, $5, $6) AS added",
            ["pg_catalog.text[]", "pg_catalog.text[]", "pg_catalog.text[]", "pg_catalog.text[]", "pg_catalog.text[]", "double precision[]"]),
        "record": plpy.prepare(
            "INSERT INTO ml.pack_maps AS p "
            "(map_id, formed_at, packs, in_packs, edges_added, edges_removed) "
            "VALUES ($1, ml.clock_now(), $2, $3, $4, $5) ON CONFLICT (map_id) DO UPDATE SET "
            "formed_at = excluded.formed_at, packs = excluded.packs, in_packs = excluded.in_packs, "
            "edges_added = excluded.edges_added, edges_removed = excluded.edges_removed",
            ["integer", "integer", "integer", "integer", "integer"]),
    }
plans = SD["plans"]
LABELS = {'monster_ai."LEADS"': "LEADS", 'monster_ai."FOLLOWS"': "FOLLOWS",
          'monster_ai."TEAMMATE_OF"': "TEAMMATE_OF"}

if any(isinstance(m, list) for m in (map_ids or [])):
    plpy.error("map_ids must be a one-dimensional array of map ids", sqlstate="ML008")
maps = sorted({m for m in (map_ids or []) if m is not None})
if not maps:
    return 0
cap = plpy.execute(plans["cap"])[0]["cap"]
if len(maps) > cap:
    plpy.error(f"map_ids has {len(maps)} distinct maps; at most {cap:.0f} per call",
               sqlstate="ML009", hint="ml.config limits.form_packs_maps")
maps = plpy.execute(plans["existing"], [maps])[0]["maps"]
if not maps:
    return 0
row = plpy.execute(plans["config"])[0]
config = pf.FormationConfig(row["radius"], row["min_size"], row["max_size"])

# Every map's lock before any edge is touched, not map by map: a map's formation also removes its
# monsters' edges into other maps, and a despawn or another formation holding one of those maps
# and waiting for an edge this one had deleted was a deadlock (bench/sync_contention.py).
plpy.execute(plans["lock"], [maps])
total = 0
for map_id in maps:
    rows = plpy.execute(plans["monsters"], [map_id])
    monsters = {r["id"]: pf.Monster(r["id"], r["x"], r["y"], r["leadership_score"], r["alive"])
                for r in rows}
    vertex_of = {r["id"]: r["vertex"] for r in rows}
    monster_at = {r["vertex"]: r["id"] for r in rows}
    edges = []  # (label, edge id, start vertex, from monster or None, to monster or None, strength)
    for e in plpy.execute(plans["edges"], [list(monster_at)]) if rows else []:
        edges.append((LABELS.get(e["label"], e["label"]), e["id"], e["start_id"],
                      monster_at.get(e["start_id"]), monster_at.get(e["end_id"]), e["strength"]))
    here = [e for e in edges if e[3] is not None and e[4] is not None]
    current = pf.current_packs_from_edges(
        [(e[3], e[4]) for e in here if e[0] == "LEADS"],
        [(e[3], e[4]) for e in here if e[0] == "TEAMMATE_OF"],
    )
    packs = pf.form_packs(list(monsters.values()), current, config)
    wanted = pf.pack_edges(packs, monsters)
    want = {("LEADS", a, b): s for (a, b), s in wanted.leads.items()}
    want.update({("FOLLOWS", a, b): None for a, b in wanted.follows})
    want.update({("TEAMMATE_OF", a, b): None for a, b in wanted.teammates})

    kept = set()
    remove_ids, remove_starts = [], []
    for label, edge_id, start, from_id, to_id, strength in edges:
        key = (label, from_id, to_id)
        if key in want and key not in kept and want[key] == strength:
            kept.add(key)
        else:  # not wanted, a duplicate, a changed strength, or an end off this map
            remove_ids.append(edge_id)
            remove_starts.append(start)
    added = [(key, strength) for key, strength in want.items() if key not in kept]
    if remove_ids or added:
        plpy.execute(plans["write"], [
            remove_ids, remove_starts,
            [k[0] for k, _ in added],
            [vertex_of[k[1]] for k, _ in added],
            [vertex_of[k[2]] for k, _ in added],
            [s for _, s in added],
        ])
    in_packs = sum(len(p.member_ids) for p in packs)
    plpy.execute(plans["record"], [map_id, len(packs), in_packs, len(added), len(remove_ids)])
    total += len(packs)
return total
$$;
GRANT EXECUTE ON FUNCTION ml.form_packs(integer[]) TO ml_user, ml_worker;
