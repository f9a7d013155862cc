-- drop: DROP FUNCTION IF EXISTS ml.state_contract_problems(real[]);
-- What in one 64-float state breaks the game server's contract, one row per broken dimension
-- (plpython/state_contract.py's problems(): kind not_a_number, not_finite, out_of_range,
-- constant, copy, complement, level or relation; no rows: the state keeps the contract). A state
-- of another shape is one row of kind 'shape' with a null dim, never an error: the
-- ml.state_contract_violations view runs it over requests stored as they came. About 0.1 ms a
-- state that keeps the contract (PL/Python's call and array conversion, then 64 checks), up to
-- 0.35 ms one that breaks most dimensions (a message each). SECURITY DEFINER (owned by
-- ml_definer) because it loads the module from ml.plpython_modules, which the roles that read
-- the view may not read; it reads nothing else and writes nothing.
CREATE FUNCTION ml.state_contract_problems(state real[])
RETURNS TABLE (dim integer, grp text, name text, kind text, problem text)
LANGUAGE plpython3u
STABLE
SECURITY DEFINER
SET search_path = ml, pg_catalog, pg_temp
AS $$
import sys
import time

if "ml_state_contract" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
contract = sys.modules["ml_state_contract"]

rows = []
for found in contract.problems(state):
    spec = None if found.dim is None else contract.DIMENSIONS[found.dim]
    rows.append((found.dim, None if spec is None else spec.group,
                 "state" if spec is None else spec.name, found.kind, found.message))
return rows
$$;
ALTER FUNCTION ml.state_contract_problems(real[]) OWNER TO ml_definer;
GRANT EXECUTE ON FUNCTION ml.state_contract_problems(real[]) TO ml_worker;
