-- drop: DROP FUNCTION IF EXISTS ml.plpython_bootstrap();
-- Loads every module of ml.plpython_modules into this session's interpreter as `ml_<name>` in
-- sys.modules (once per session and module version). PL/Python bodies call it, then import.
CREATE FUNCTION ml.plpython_bootstrap() RETURNS integer
LANGUAGE plpython3u
SET search_path = ml, pg_catalog, pg_temp
AS $$
import sys
import types

loaded = 0
for row in plpy.execute("SELECT name, source, sha256 FROM ml.plpython_modules ORDER BY name"):
    qualified = "ml_" + row["name"]
    current = sys.modules.get(qualified)
    if current is not None and getattr(current, "__sha256__", None) == row["sha256"]:
        continue
    module = types.ModuleType(qualified)
    module.__sha256__ = row["sha256"]
    module.__file__ = "plpython/" + row["name"] + ".py"
    sys.modules[qualified] = module
    exec(compile(row["source"], module.__file__, "exec"), module.__dict__)
    loaded += 1
return loaded
$$;
