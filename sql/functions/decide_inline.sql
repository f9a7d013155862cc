-- drop: DROP FUNCTION IF EXISTS ml.decide_inline(integer[], text[], bytea, text);
-- The inline decider (plpython/inline_serving.py), behind ml.decide_pack and the legacy gateway's
-- inline answer; not the game server's to call. `states` is n x 64 float32 in one of two layouts:
-- 'array' (array_send of the typed form's real[], checked), 'packed' (little-endian float32 as
-- the game server packs them); or one legacy gateway request ('gateway', 'gateway_auto':
-- array_send of its state_vector, whatever shape it came in), answered 255 with the reason when it
-- cannot be decided, never an error. Rows in the order of the request; inference_ms is this
-- call's time in the backend. Bytes, not real[], because PL/Python converts an array element by
-- element (a pack of 5 took 0.85 ms that way, 0.19 ms as bytes).
-- Errors: ML004 a packed state with NaN or infinity; ML011 ONNX Runtime missing from the server's
-- Python ('gateway_auto': no row instead, the worker answers); P0002 an unknown monster.
CREATE FUNCTION ml.decide_inline(monster_ids integer[], archetypes text[], states bytea, layout text)
RETURNS TABLE (monster_id integer, action smallint, confidence real, coordinated boolean,
               coordination_bonus real, reason text, model_version text, inference_ms real)
LANGUAGE plpython3u
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
-- One plan for the lookup, kept for the session (ml.read_monster_memory folds into it): a custom
-- plan per call cost what the folding saves.
SET plan_cache_mode = force_generic_plan
AS $$
import sys
import time

if "ml_inline_serving" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
inline = sys.modules["ml_inline_serving"]

if "lookup" not in SD:
    # What a pack's decision reads, in one statement: the model-change count, pack keys (P0002 for
    # an unknown monster), the signals' non-zero entries, the threshold, the recurrent memory.
    SD["lookup"] = plpy.prepare(
        "SELECT (SELECT c.changes FROM ml.model_changes c) AS changes, "
        "ml.pack_keys($1, true) AS leaders, e.rows, e.dims, e.weights, "
        "ml.config_number('ctde.inference.coordination_threshold') AS threshold, "
        "m.memory_rows, m.memory "
        "FROM ml.signal_entries($1) AS e, "
        "LATERAL (SELECT array_agg(r.ord) AS memory_rows, array_agg(r.hidden) AS memory "
        "         FROM ml.read_monster_memory($2, $1) AS r) AS m",
        ["integer[]", "bigint[]"])
    SD["memory"] = plpy.prepare(
        "SELECT array_agg(r.ord) AS memory_rows, array_agg(r.hidden) AS memory "
        "FROM ml.read_monster_memory($2, $1) AS r",
        ["integer[]", "bigint[]"])
    SD["changes"] = plpy.prepare("SELECT changes FROM ml.model_changes")
    SD["deployed"] = plpy.prepare(
        "SELECT id, archetype, model_type, version, onnx_sha256 FROM ml.ml_models WHERE is_deployed")
    SD["model_files"] = plpy.prepare(
        "SELECT id, archetype, model_type, version, onnx_fp32, onnx_fp16, onnx_int8 "
        "FROM ml.ml_models WHERE id = ANY($1)", ["bigint[]"])
    SD["legacy_map"] = plpy.prepare("SELECT pack_action, legacy_action FROM ml.legacy_action_map")
    SD["write"] = plpy.prepare("SELECT ml.write_monster_memory($1, $2, $3)",
                               ["bigint[]", "integer[]", "bytea[]"])


def query(name, args):
    return plpy.execute(SD[name], args)


if layout in ("gateway", "gateway_auto"):
    try:
        srv = inline.server(GD, inline.__sha256__)
    except inline.InlineError as error:
        if layout == "gateway_auto":
            return []
        return [(monster_ids[0], 255, 0.0, False, 0.0, str(error), None, 0.0)]
    answer = inline.decide_gateway(srv, query, archetypes[0], states)
    return [(monster_ids[0], answer.action, answer.confidence, False, 0.0, answer.reason,
             answer.model_version, answer.inference_ms)]

started = time.perf_counter()
try:  # an SPI error of the lookup (P0002 unknown monster) propagates with its own code
    srv = inline.server(GD, inline.__sha256__)
    decision = inline.decide_pack(srv, query, monster_ids, archetypes,
                                  inline.states_of(states, layout, monster_ids))
except inline.InlineError as error:
    plpy.error(str(error), sqlstate=error.sqlstate)
if decision.memory_models:
    plpy.execute(SD["write"], [decision.memory_models, decision.memory_monsters,
                               decision.memory_hidden])
ms = (time.perf_counter() - started) * 1000.0
return [row + (ms,) for row in decision.rows]
$$;
GRANT EXECUTE ON FUNCTION ml.decide_inline(integer[], text[], bytea, text) TO ml_definer;
