-- drop: DROP FUNCTION IF EXISTS ml.signal_entries(integer[]);
-- The non-zero entries of a batch of monsters' signal vectors, from one query and one PL/Python
-- call for the whole batch: row k of the batch (1-based) has weights[i] in dimension dims[i]
-- (0-31) where rows[i] = k. Encoded by plpython/signal_encoding.py (docs/signal_encoding.md).
-- Sparse on purpose: most monsters hear few signals, and handing PostgreSQL 32 Python floats per
-- monster cost more than the query (ml.signal_vectors fills in the zeros).
CREATE FUNCTION ml.signal_entries(monster_ids integer[], OUT rows integer[], OUT dims integer[],
                                  OUT weights real[])
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
        # whatever the statistics say the planner cannot start from SIGNALS; the expiry test
        # spelled with -> as in ml.signal_vector, so that it never walks every live signal by the
        # expiry index.
        "SELECT u.ord::integer AS ord, s.signal "
        "FROM unnest($1::integer[]) WITH ORDINALITY AS u(id, ord) "
        "JOIN ml.monsters m ON m.id = u.id "
        "CROSS JOIN LATERAL (SELECT ag_catalog.agtype_out(e.properties)::text AS signal "
        "FROM monster_ai.\"SIGNALS\" e WHERE e.end_id = m.vertex_id "
        "AND (e.properties OPERATOR(ag_catalog.->) 'expires_at'::text) "
        "OPERATOR(ag_catalog.>) ml.graph_time(ml.clock_now()) OFFSET 0) AS s", ["integer[]"])
received = {}
for row in plpy.execute(SD["live"], [monster_ids or []]):
    received.setdefault(row["ord"], []).append(json.loads(row["signal"]))
rows, dims, weights = [], [], []
for ord_, signals in sorted(received.items()):
    for dim, weight in enumerate(se.encode_signals(signals)):
        if weight:
            rows.append(ord_)
            dims.append(dim)
            weights.append(weight)
return rows, dims, weights
$$;
