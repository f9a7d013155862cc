-- drop: DROP FUNCTION IF EXISTS ml.coordination_score(integer[], integer[]);
-- The coordination score of a batch of decisions (plpython/coordination.py, which the worker uses
-- too): 0.4 signal utilization + 0.3 pack coverage + 0.2 leader presence + 0.1 action diversity,
-- with the bonus at ctde.inference.coordination_threshold (0.7). actions[i] is the action chosen
-- for monster_ids[i]; packs and live signals are read from the graph now.
-- Errors: P0002 unknown monster; ML005 empty batch, lengths differ, or a null action.
CREATE FUNCTION ml.coordination_score(monster_ids integer[], actions integer[])
RETURNS TABLE (score double precision, bonus boolean, signal_utilization double precision,
               pack_coverage double precision, leader_presence double precision,
               action_diversity double precision)
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
import sys
import time

if "ml_coordination" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
co = sys.modules["ml_coordination"]

if "batch" not in SD:
    SD["batch"] = plpy.prepare(
        "SELECT t.leader_id, EXISTS (SELECT 1 FROM ml.receive_signals(u.id)) AS signalled "
        "FROM unnest($1::integer[]) WITH ORDINALITY AS u(id, ord) "
        "CROSS JOIN LATERAL ml.get_monster_team(u.id) AS t ORDER BY u.ord",
        ["integer[]"])
    SD["threshold"] = plpy.prepare(
        "SELECT ml.config_number('ctde.inference.coordination_threshold') AS threshold")

ids = list(monster_ids or [])
chosen = list(actions or [])
if any(a is None for a in chosen):
    plpy.error("actions must not contain null", sqlstate="ML005")
rows = plpy.execute(SD["batch"], [ids])
threshold = plpy.execute(SD["threshold"])[0]["threshold"]
try:
    result = co.coordination_score(
        ids, [r["leader_id"] for r in rows], [r["signalled"] for r in rows], chosen, threshold
    )
except co.CoordinationInputError as error:
    plpy.error(str(error), sqlstate="ML005")
return [(result.score, result.bonus, result.signal_utilization, result.pack_coverage,
         result.leader_presence, result.action_diversity)]
$$;
GRANT EXECUTE ON FUNCTION ml.coordination_score(integer[], integer[]) TO ml_user, ml_worker;
