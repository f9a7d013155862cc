-- drop: DROP FUNCTION IF EXISTS ml.check_signal(text, jsonb, integer);
-- Validates a signal with plpython/signal_encoding.py (the module that encodes it, so nothing is
-- stored that the encoder would refuse), resolves its canonical type (focus_fire -> attack_target)
-- and, when priority is null, the type's default priority, and encodes it: the one dimension of the
-- 32-float vector it sets and its weight there. ml.deliver_signal stores both on the edge, so a
-- decision request reads each signal's encoding instead of running the encoder (ml.signal_entries).
-- Raises the module's error under its SQLSTATE: ML001 unknown type, ML002 priority, ML003 NaN or
-- out-of-range number, ML005 malformed content, ML007 unknown formation type.
CREATE FUNCTION ml.check_signal(
    signal_type text, content jsonb, priority integer,
    OUT canonical_type text, OUT resolved_priority integer, OUT dimension integer,
    OUT weight double precision
)
LANGUAGE plpython3u
STABLE
SET search_path = ml, pg_catalog, ag_catalog, pg_temp
AS $$
import json
import sys
import time

if "ml_signal_encoding" not in sys.modules or time.monotonic() - GD.get("ml_modules_at", -1e9) > 10:
    plpy.execute("SELECT ml.plpython_bootstrap()")
    GD["ml_modules_at"] = time.monotonic()
se = sys.modules["ml_signal_encoding"]

try:
    kind = se.canonical_type(signal_type)
    resolved = se.DEFAULT_PRIORITIES[kind] if priority is None else priority
    decoded = None if content is None else json.loads(content)
    se.validate_signal(kind, decoded, resolved)
    dimension = se.signal_dimension(kind, decoded)
    weight = se.priority_weight(resolved)
except se.SignalError as error:
    plpy.error(str(error), sqlstate=error.sqlstate)
return (kind, resolved, dimension, weight)
$$;
