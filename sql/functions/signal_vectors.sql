-- drop: DROP FUNCTION IF EXISTS ml.signal_vectors(integer[]);
-- The signal vectors of a batch of monsters, n x 32 in the order given: what ml.signal_vector
-- returns for each, from one query and one PL/Python call for the whole batch (a decision request
-- resolves every monster's vector at submit time). Encoded by plpython/signal_encoding.py
-- (docs/signal_encoding.md). A monster the database does not know gets 32 zeros: the callers
-- decide whether that is an error (ml.request_pack_actions raises P0002 before it gets here; the
-- legacy gateway never raises).
CREATE FUNCTION ml.signal_vectors(monster_ids integer[]) RETURNS real[]
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
        # Each receiver's edges by end_id: a LATERAL sub-select kept whole by OFFSET 0, so that
        # whatever the statistics say the planner cannot start from SIGNALS; the expiry test spelled with -> as in
        # ml.signal_vector, so that it never walks every live signal by the expiry index.
        "SELECT u.ord::integer AS ord, s.signal "
        "FROM unnest($1::integer[]) WITH ORDINALITY AS u(id, ord) "
        "JOIN ml.monsters m ON m.id = u.id "
        "CROSS JOIN LATERAL (SELECT ag_catalog.agtype_out(e.properties)::text AS signal "
        "FROM monster_ai.\"SIGNALS\" e WHERE e.end_id = m.vertex_id "
        "AND (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text) "
        "OPERATOR(ag_catalog.>) ml.graph_time(ml.clock_now()) OFFSET 0) AS s", ["integer[]"])
n = len(monster_ids or [])
if n == 0:
    return []
received = [[] for _ in range(n)]
for row in plpy.execute(SD["live"], [monster_ids]):
    received[row["ord"] - 1].append(json.loads(row["signal"]))
return [se.encode_signals(signals) for signals in received]
$$;
GRANT EXECUTE ON FUNCTION ml.signal_vectors(integer[]) TO ml_user, ml_worker;
