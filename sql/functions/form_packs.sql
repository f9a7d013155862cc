-- drop: DROP FUNCTION IF EXISTS ml.form_packs(integer[]);
-- Forms the packs of the given maps (plpython/pack_formation.py) and writes the difference to the
-- graph: LEADS {strength} leader -> follower, FOLLOWS back, TEAMMATE_OF between followers. Returns
-- the number of packs on those maps. Runs on spawn, death, revival, map change and despawn (the
-- ml.monsters triggers), every second for maps whose monsters moved (ml.form_dirty_packs, pg_cron),
-- and on demand. Every map's advisory lock first (ascending, ml.lock_pack_maps), then every map's
-- monsters and pack edges in one read each, then map by map in Python, then one write of every
-- difference and one record of every map: four statements a map cost ~0.2 ms a map, and forming
-- the 2,000 monsters a sync spawned on 200 maps took 93 ms instead of 59 (bench/spawn_wave.py).
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
        # Every monster of the maps (the map_id index, = ANY), and below every pack edge with an
        # end on one of their vertices (both indexes, BitmapOr): each as one row of arrays, so
        # that PL/Python builds no dict per monster or edge (8,000 edges: 13 ms, 23 as rows).
        "monsters": plpy.prepare(
            "SELECT array_agg(m.map_id) AS map_ids, array_agg(m.id) AS ids, "
            "array_agg(m.vertex_id::text) AS vertices, array_agg(m.x) AS xs, array_agg(m.y) AS ys, "
            "array_agg(m.leadership_score) AS scores, array_agg(m.hp_ratio > 0) AS alive "
            "FROM ml.monsters m WHERE m.map_id = ANY ($1::integer[])", ["integer[]"]),
        "edges": plpy.prepare(
            "SELECT array_agg(e.tableoid::regclass::text) AS labels, array_agg(e.id::text) AS ids, "
            "array_agg(e.start_id::text) AS starts, array_agg(e.end_id::text) AS ends, "
            "array_agg(CASE WHEN e.tableoid = 'monster_ai.\"LEADS\"'::regclass THEN "
            "ag_catalog.agtype_access_operator(VARIADIC ARRAY[e.properties, "
            "'\"strength\"'::ag_catalog.agtype])::double precision END) AS strengths "
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
            "SELECT r.map_id, ml.clock_now(), r.packs, r.in_packs, r.added, r.removed "
            "FROM unnest($1::integer[], $2::integer[], $3::integer[], $4::integer[], "
            "$5::integer[]) AS r(map_id, packs, in_packs, added, removed) "
            "ON CONFLICT (map_id) DO UPDATE SET "
            "formed_at = excluded.formed_at, packs = excluded.packs, in_packs = excluded.in_packs, "
            "edges_added = excluded.edges_added, edges_removed = excluded.edges_removed",
            ["integer[]", "integer[]", "integer[]", "integer[]", "integer[]"]),
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
monsters_of = {map_id: {} for map_id in maps}
vertex_of = {}  # monster id -> vertex
monster_at = {}  # vertex -> (map, monster id)
read = plpy.execute(plans["monsters"], [maps])[0]
for map_id, monster_id, vertex, x, y, score, alive in zip(
        *(read[k] or [] for k in ("map_ids", "ids", "vertices", "xs", "ys", "scores", "alive"))):
    monsters_of[map_id][monster_id] = pf.Monster(monster_id, x, y, score, alive)
    vertex_of[monster_id] = vertex
    monster_at[vertex] = (map_id, monster_id)

# A map's own edges (both ends on it), and the rest, removed: an end on another map or on a vertex
# of none of these maps. Each edge is read once, so one with ends on two of the maps is removed
# once, counted on the lower map (the one that removed it when maps were formed one by one).
here = {map_id: [] for map_id in maps}  # (label, edge id, start vertex, from, to, strength)
remove_ids, remove_starts = [], []
removed = dict.fromkeys(maps, 0)
read = plpy.execute(plans["edges"], [list(monster_at)])[0] if monster_at else {}
for label, edge_id, start_id, end_id, strength in zip(
        *(read.get(k) or [] for k in ("labels", "ids", "starts", "ends", "strengths"))):
    start, end = monster_at.get(start_id), monster_at.get(end_id)
    if start is not None and end is not None and start[0] == end[0]:
        here[start[0]].append((LABELS.get(label, label), edge_id, start_id, start[1], end[1],
                               strength))
    else:
        remove_ids.append(edge_id)
        remove_starts.append(start_id)
        removed[min(at[0] for at in (start, end) if at is not None)] += 1

added = []  # ((label, from, to), strength)
record = [[], [], [], [], []]  # map, packs, in packs, edges added, edges removed
total = 0
for map_id in maps:
    monsters = monsters_of[map_id]
    edges = here[map_id]
    current = pf.current_packs_from_edges(
        [(e[3], e[4]) for e in edges if e[0] == "LEADS"],
        [(e[3], e[4]) for e in edges if e[0] == "TEAMMATE_OF"],
    )
    packs = pf.form_packs(list(monsters.values()), current, config)
    wanted = pf.pack_edges(packs, monsters)
    want = {("LEADS", a, b): s for (a, b), s in wanted.leads.items()}
    want.update({("FOLLOWS", a, b): None for a, b in wanted.follows})
    want.update({("TEAMMATE_OF", a, b): None for a, b in wanted.teammates})

    kept = set()
    for label, edge_id, start, from_id, to_id, strength in edges:
        key = (label, from_id, to_id)
        if key in want and key not in kept and want[key] == strength:
            kept.add(key)
        else:  # not wanted, a duplicate, or a changed strength
            remove_ids.append(edge_id)
            remove_starts.append(start)
            removed[map_id] += 1
    new = [(key, strength) for key, strength in want.items() if key not in kept]
    added += new
    for column, value in zip(record, (map_id, len(packs), sum(len(p.member_ids) for p in packs),
                                      len(new), removed[map_id])):
        column.append(value)
    total += len(packs)
if remove_ids or added:
    plpy.execute(plans["write"], [
        remove_ids, remove_starts,
        [k[0] for k, _ in added],
        [vertex_of[k[1]] for k, _ in added],
        [vertex_of[k[2]] for k, _ in added],
        [s for _, s in added],
    ])
plpy.execute(plans["record"], record)
return total
$$;
GRANT EXECUTE ON FUNCTION ml.form_packs(integer[]) TO ml_user, ml_worker;
