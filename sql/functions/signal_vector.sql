-- drop: DROP FUNCTION IF EXISTS ml.signal_vector(integer);
-- A monster's live signals as the 32 floats its actor reads, encoded by plpython/signal_encoding.py
-- (docs/signal_encoding.md), the module training uses. All zeros: no live signal. P0002: unknown
-- monster. Reads the edges itself (one agtype-to-JSON conversion per signal) rather than through
-- ml.receive_signals: this runs for every monster of every decision request.
CREATE FUNCTION ml.signal_vector(monster_id integer) RETURNS real[]
LANGUAGE plpython3u
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
import json
import sys
import time

if "ml_signal_encoding" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
se = sys.modules["ml_signal_encoding"]

if "live" not in SD:
    SD["live"] = plpy.prepare(
        # The receiver's edges by end_id; the expiry test spelled with -> so that the planner
        # cannot prefer the expiry index (walking every live signal) to the receiver's few edges.
        "SELECT ag_catalog.agtype_out(e.properties)::text AS signal "
        "FROM monster_ai.\"SIGNALS\" e "
        "WHERE e.end_id = $1 AND (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text) "
        "OPERATOR(ag_catalog.>) ml.graph_time(ml.clock_now())", ["ag_catalog.graphid"])
    SD["vertex"] = plpy.prepare("SELECT ml.monster_vertex($1) AS vertex", ["integer"])
vertex = plpy.execute(SD["vertex"], [monster_id])[0]["vertex"]  # P0002 when unknown
rows = plpy.execute(SD["live"], [vertex])
return se.encode_signals(json.loads(r["signal"]) for r in rows)
$$;
GRANT EXECUTE ON FUNCTION ml.signal_vector(integer) TO ml_user, ml_worker;
