-- drop: DROP FUNCTION IF EXISTS ml.explain_state_rows(real[]);
-- The body of ml.explain_state: every dimension of a 64-float state decoded by
-- plpython/state_contract.py (the contract's one source, also imported by the Python side), with
-- its meaning and its first problem (null: as the contract says). The module refuses a state of
-- another shape with its own SQLSTATE (ML004 length or null, ML008 nested), though
-- ml.explain_state has already refused those from the array's header, before the array is
-- converted to Python. Runs as its caller; only ml_definer (ml.explain_state's owner) may call it.
CREATE FUNCTION ml.explain_state_rows(state real[])
RETURNS TABLE (dim integer, grp text, name text, value real, meaning text, problem text)
LANGUAGE plpython3u
STABLE
SET search_path = ml, pg_catalog, pg_temp
AS $$
import sys
import time

if "ml_state_contract" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
contract = sys.modules["ml_state_contract"]

try:
    rows = contract.explain(state)
except contract.StateShapeError as error:
    plpy.error(str(error), sqlstate=error.sqlstate)
return [(r.index, r.group, r.name, r.value, contract.DIMENSIONS[r.index].meaning, r.problem)
        for r in rows]
$$;
GRANT EXECUTE ON FUNCTION ml.explain_state_rows(real[]) TO ml_definer;
