-- drop: DROP FUNCTION IF EXISTS ml.zoo_infer(text, text[], bytea, integer[], boolean);
-- The zoo's inline answers (plpython/zoo_serving.py), behind ml.ask_model; not the game server's to
-- call. `inputs` is array_send of ml.ask_model's checked n x width real[]. Each row's archetype's
-- deployed model of `model_type` answers; rows in the order asked. With `notify`, the answers also
-- go out on the ml_decisions channel (kind 'zoo').
-- Errors: 22P02 an unknown model type; ML005 inputs of another width than the type's; ML012 no
-- deployed model of the type for an archetype asked (or one that cannot serve, with why); ML011
-- ONNX Runtime missing from the server's Python; ML009 a notification over the channel's 8000 bytes.
CREATE FUNCTION ml.zoo_infer(model_type text, archetypes text[], inputs bytea,
                             monster_ids integer[], notify boolean)
RETURNS TABLE (row_index integer, archetype text, answer integer, outputs real[],
               model_version text, inference_ms real)
LANGUAGE plpython3u
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
import json
import sys
import time

started = time.perf_counter()
if "ml_zoo_serving" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
zoo = sys.modules["ml_zoo_serving"]
inline = sys.modules["ml_inline_serving"]
pgarrays = sys.modules["ml_pgarrays"]

if "zoo_changes" not in SD:
    SD["zoo_changes"] = plpy.prepare("SELECT changes FROM ml.model_changes")
    SD["zoo_deployed"] = plpy.prepare(
        "SELECT id, archetype, model_type FROM ml.ml_models WHERE is_deployed")
    SD["zoo_file"] = plpy.prepare(
        "SELECT id, version, onnx_fp32, onnx_fp16, onnx_int8, hidden_dim FROM ml.ml_models "
        "WHERE is_deployed AND archetype = $1 AND model_type = $2", ["text", "text"])
    SD["zoo_memory"] = plpy.prepare(
        "SELECT array_agg(r.ord) AS memory_rows, array_agg(r.hidden) AS memory "
        "FROM ml.read_monster_memory($2, $1) AS r", ["integer[]", "bigint[]"])
    SD["zoo_write"] = plpy.prepare("SELECT ml.write_monster_memory($1, $2, $3)",
                                   ["bigint[]", "integer[]", "bytea[]"])
    SD["zoo_notify"] = plpy.prepare("SELECT pg_notify('ml_decisions', $1)", ["text"])


def query(name, args):
    return plpy.execute(SD[name], args)


try:
    spec = zoo.zoo_type(model_type)
except KeyError as error:
    plpy.error(str(error.args[0]), sqlstate="22P02")
n = len(archetypes)
values = pgarrays.float4_array(inputs)
if values.ndim != 2 or values.shape != (n, spec.input_dim):
    plpy.error(f"inputs must be {n} x {spec.input_dim} for {model_type} ({spec.inputs}), "
               f"got {' x '.join(map(str, values.shape))}", sqlstate="ML005")
try:
    srv = zoo.server(GD, zoo.__sha256__, inline.load_runtime())
    found = zoo.ask(srv, query, model_type, archetypes, values, monster_ids)
except (zoo.ZooAskError, inline.InlineError) as error:
    plpy.error(str(error), sqlstate=error.sqlstate)
if found.memory_models:
    plpy.execute(SD["zoo_write"], [found.memory_models, found.memory_monsters, found.memory_hidden])
ms = (time.perf_counter() - started) * 1000.0
if notify:
    payload = json.dumps({
        "kind": "zoo", "model_type": model_type, "monster_ids": monster_ids,
        "archetypes": list(archetypes), "answers": [r[2] for r in found.rows],
        "outputs": [[round(v, 6) for v in r[3]] for r in found.rows],
        "model_versions": [r[4] for r in found.rows]}, separators=(",", ":"))
    if len(payload) > 7999:
        plpy.error(f"the answers of {n} rows are {len(payload)} bytes, over a notification's 8000",
                   sqlstate="ML009", hint="ask with notify => false, or for fewer rows per call")
    plpy.execute(SD["zoo_notify"], [payload])
return [row + (ms,) for row in found.rows]
$$;
GRANT EXECUTE ON FUNCTION ml.zoo_infer(text, text[], bytea, integer[], boolean) TO ml_definer;
