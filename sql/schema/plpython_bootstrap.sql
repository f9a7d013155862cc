-- drop: DROP FUNCTION IF EXISTS ml.plpython_bootstrap();
-- Loads every module of ml.plpython_modules into this session's interpreter (once per session and
-- module version) under the name the host imports it by, `plpython.<name>`, and as `ml_<name>`,
-- the name PL/Python bodies take it from sys.modules by. A module may import another of them
-- (`from plpython.decisions import ...`, as on the host): an import hook serves the package from
-- the table's sources. When any module changed, every one is loaded again, so that none keeps a
-- reference to an older version of another. Only the versions are read when nothing changed.
CREATE FUNCTION ml.plpython_bootstrap() RETURNS integer
LANGUAGE plpython3u
SET search_path = ml, pg_catalog, pg_temp
AS $$
import importlib
import importlib.abc
import importlib.util
import sys
import types

versions = {r["name"]: r["sha256"]
            for r in plpy.execute("SELECT name, sha256 FROM ml.plpython_modules")}
if all(getattr(sys.modules.get("ml_" + name), "__sha256__", None) == sha
       for name, sha in versions.items()):
    return 0


class DatabaseModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`plpython.<name>` from ml.plpython_modules's sources."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package != "plpython" or name not in self.sources:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__.partition(".")[2]
        source, sha = self.sources[name]
        module.__sha256__ = sha
        module.__file__ = "plpython/" + name + ".py"
        exec(compile(source, module.__file__, "exec"), module.__dict__)


sources = {r["name"]: (r["source"], r["sha256"])
           for r in plpy.execute("SELECT name, source, sha256 FROM ml.plpython_modules")}
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "DatabaseModules"]
sys.meta_path.insert(0, DatabaseModules(sources))
for qualified in [m for m in sys.modules if m.startswith(("plpython.", "ml_"))]:
    del sys.modules[qualified]
package = types.ModuleType("plpython")
package.__path__ = []
sys.modules["plpython"] = package
for name in sorted(sources):
    module = importlib.import_module("plpython." + name)
    setattr(package, name, module)
    sys.modules["ml_" + name] = module
return len(sources)
$$;
