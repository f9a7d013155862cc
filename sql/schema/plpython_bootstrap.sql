-- drop: DROP FUNCTION IF EXISTS ml.plpython_bootstrap();
-- Makes every module of ml.plpython_modules importable in this session's interpreter (once per
-- session and module version) under the name the host imports it by, `plpython.<name>`, and as
-- `ml_<name>`, the name PL/Python bodies take it from sys.modules by. A module may import another
-- of them (`from plpython.decisions import ...`, as on the host): an import hook serves the
-- package from the table's sources. Each module runs at its first use, not here: a session that
-- forms packs never pays for numpy or the inline decider (loading them all cost a new session's
-- first ml.form_packs 131 ms instead of 35). When any module changed, every one is made anew, so
-- that none keeps a reference to an older version of another. Only the versions are read when
-- nothing changed.
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
current = next((f for f in sys.meta_path if type(f).__name__ == "DatabaseModules"), None)
if current is not None and current.versions == versions:
    return 0


class DatabaseModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`plpython.<name>` from ml.plpython_modules's sources."""

    def __init__(self, sources):
        self.sources = sources
        self.versions = {name: sha for name, (_, sha) in sources.items()}

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
finder = sys.meta_path[0]
for name in sorted(sources):
    # Lazy: the module's code runs when one of its names is first read.
    spec = importlib.util.spec_from_loader("plpython." + name, importlib.util.LazyLoader(finder))
    module = importlib.util.module_from_spec(spec)
    sys.modules["plpython." + name] = module
    spec.loader.exec_module(module)
    setattr(package, name, module)
    sys.modules["ml_" + name] = module
return len(sources)
$$;
